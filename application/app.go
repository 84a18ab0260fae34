// Package application holds the use cases. It depends only on the domain and on ports.
package application

import (
	"log/slog"
	"sync"
	"time"

	"github.com/shuxinqian/server/ports"
)

// Deps are the ports the use cases need.
type Deps struct {
	UoW       ports.UnitOfWork
	Clock     ports.Clock
	IDs       ports.IDs
	Random    ports.Random
	Passwords ports.PasswordHasher
	Secrets   ports.Secrets
	SMS       ports.SMSSender
	Logger    *slog.Logger

	Identity ports.IdentityVerifier
	Liveness ports.LivenessVerifier
	CA       ports.CertificateAuthority
	Keys     ports.SigningKeys
	Files    ports.FileStore
	Renderer ports.SignatureRenderer
	QR       ports.QRCoder
	Settings Settings

	Registry  ports.BusinessRegistry
	Bank      ports.BankRemitter
	Documents ports.DocumentRenderer
	Signer    ports.DocumentSigner
	KeyGen    ports.KeyGenerator
	Payments  ports.PaymentGateway
	Invoicer  ports.InvoiceIssuer

	// Trust services (issue 12).
	TSA         ports.TimeStampAuthority
	Revocation  ports.RevocationSigner
	EventCA     ports.EventCertificateAuthority
	Inspector   ports.SignatureInspector
	PDFVerifier ports.PDFSignatureVerifier // nil until a PDF verifier is plugged in

	// PDFIntake checks documents uploaded for signing (purpose "document", issue 15).
	PDFIntake ports.PDFIntake
}

// Settings are plain configuration values the use cases need.
type Settings struct {
	// PublicBaseURL is where clients reach this server (QR join links, liveness redirects).
	PublicBaseURL string
	// InvoiceLinkTTL is how long a shared invoice link works (default 7 days).
	InvoiceLinkTTL time.Duration
	// EffectLease is how long a claimed external effect belongs to its run (default
	// EffectLease); it must be shorter than the delivery lease.
	EffectLease time.Duration
}

// App is the set of use cases.
type App struct {
	uow       ports.UnitOfWork
	clock     ports.Clock
	ids       ports.IDs
	random    ports.Random
	passwords ports.PasswordHasher
	secrets   ports.Secrets
	sms       ports.SMSSender
	log       *slog.Logger
	identity  ports.IdentityVerifier
	liveness  ports.LivenessVerifier
	ca        ports.CertificateAuthority
	keys      ports.SigningKeys
	files     ports.FileStore
	renderer  ports.SignatureRenderer
	qr        ports.QRCoder
	settings  Settings
	registry  ports.BusinessRegistry
	bank      ports.BankRemitter
	docs      ports.DocumentRenderer
	signer    ports.DocumentSigner
	keygen    ports.KeyGenerator
	payments  ports.PaymentGateway
	invoicer  ports.InvoiceIssuer
	trust     trustDeps
	pdfIntake ports.PDFIntake

	dummyOnce sync.Once
	dummyHash string
}

// New builds the application.
func New(d Deps) *App {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &App{uow: d.UoW, clock: d.Clock, ids: d.IDs, random: d.Random, passwords: d.Passwords,
		secrets: d.Secrets, sms: d.SMS, log: log, identity: d.Identity, liveness: d.Liveness, ca: d.CA,
		keys: d.Keys, files: d.Files, renderer: d.Renderer, qr: d.QR, settings: d.Settings, registry: d.Registry,
		bank: d.Bank, docs: d.Documents, signer: d.Signer, keygen: d.KeyGen, payments: d.Payments, invoicer: d.Invoicer,
		trust:     trustDeps{tsa: d.TSA, revocation: d.Revocation, eventCA: d.EventCA, inspector: d.Inspector, pdf: d.PDFVerifier},
		pdfIntake: d.PDFIntake}
}

// Actor is the authenticated caller of a use case.
type Actor struct {
	UserID    string
	SessionID string
}
