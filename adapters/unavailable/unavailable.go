// Package unavailable holds the adapters of features that have no real provider yet (business
// registry, bank payout, digital-invoice issuing). Production mode cannot use the sandbox ones
// (they simulate: fixture enterprises, remittances nobody receives, invoices with a sandbox
// seller), so with REGISTRY_PROVIDER / BANK_PROVIDER / INVOICE_PROVIDER=off the feature answers
// 503 "<feature>-unavailable" instead of pretending.
package unavailable

import (
	"context"
	"errors"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

var (
	errRegistry = kernel.Unavailable("business-registry-unavailable",
		"enterprise verification is not available: no business registry provider is configured", errors.New("REGISTRY_PROVIDER=off"))
	errBank = kernel.Unavailable("bank-transfer-unavailable",
		"bank-transfer verification is not available: no bank payout provider is configured", errors.New("BANK_PROVIDER=off"))
	errInvoice = kernel.Unavailable("invoicing-unavailable",
		"invoices are not available: no digital-invoice provider is configured", errors.New("INVOICE_PROVIDER=off"))
)

// Registry is the business registry turned off.
type Registry struct{}

// LookupByName answers unavailable.
func (Registry) LookupByName(context.Context, string) (ports.RegistryEntry, error) {
	return ports.RegistryEntry{}, errRegistry
}

// CheckLegalRep answers unavailable.
func (Registry) CheckLegalRep(context.Context, kernel.CreditCode, string, kernel.IDNumber) (bool, error) {
	return false, errRegistry
}

// Bank is the bank remitter turned off.
type Bank struct{}

// Remit answers unavailable.
func (Bank) Remit(context.Context, ports.RemitRequest) (ports.RemitResult, error) {
	return ports.RemitResult{}, errBank
}

// Invoicer is the invoice issuer turned off.
type Invoicer struct{}

// Issue answers unavailable.
func (Invoicer) Issue(context.Context, ports.IssueRequest) (ports.IssuedInvoice, error) {
	return ports.IssuedInvoice{}, errInvoice
}

// Printable answers unavailable: no invoice can be requested.
func (Invoicer) Printable(string, string) error { return errInvoice }

var (
	_ ports.BusinessRegistry = Registry{}
	_ ports.BankRemitter     = Bank{}
	_ ports.InvoiceIssuer    = Invoicer{}
)
