package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/ports"
)

// registerConsoleRoutes mounts the console's resources (API.md "Platform operators").
func (s *Server) registerConsoleRoutes() {
	const a = "/api/v1/admin"
	s.operator("GET", a+"/channels", operator.PermRead, s.adminListChannels)
	s.operator("POST", a+"/channels", operator.PermChannels, s.adminCreateChannel)
	s.operator("GET", a+"/channels/{code}", operator.PermRead, s.adminGetChannel)
	s.operator("PUT", a+"/channels/{code}", operator.PermChannels, s.adminEditChannel)
	s.operator("PUT", a+"/channels/{code}/catalog/{sku}", operator.PermChannels, s.adminPutItem)
	s.operator("DELETE", a+"/channels/{code}/catalog/{sku}", operator.PermChannels, s.adminDeleteItem)
	s.operator("GET", a+"/settings", operator.PermRead, s.adminGetSettings)
	s.operator("PUT", a+"/settings", operator.PermSettings, s.adminPutSettings)

	s.operator("POST", a+"/banner-images", operator.PermBanners, s.adminUploadBannerImage)
	s.operator("GET", a+"/banners", operator.PermRead, s.adminListBanners)
	s.operator("POST", a+"/banners", operator.PermBanners, s.adminCreateBanner)
	s.operator("PUT", a+"/banners/{banner_id}", operator.PermBanners, s.adminUpdateBanner)
	s.operator("DELETE", a+"/banners/{banner_id}", operator.PermBanners, s.adminDeleteBanner)
	s.handle("GET", "/api/v1/banners", s.publicBanners)
	s.handle("GET", "/api/v1/banners/{banner_id}/image", s.publicBannerImage)

	s.operator("GET", a+"/enterprises", operator.PermEnterprisesRead, s.adminListEnterprises)
	s.operator("GET", a+"/enterprises/{enterprise_id}", operator.PermEnterprisesRead, s.adminGetEnterprise)
	s.operator("POST", a+"/enterprises/{enterprise_id}/deactivate", operator.PermEnterprisesEdit, s.adminDeactivateEnterprise)
	s.operator("GET", a+"/enterprise-verifications/{verification_id}", operator.PermEnterprisesRead, s.adminGetVerification)

	s.operator("GET", a+"/payment-anomalies", operator.PermOrdersRead, s.adminListAnomalies)
	s.operator("POST", a+"/payment-anomalies/{anomaly_id}/resolve", operator.PermAnomalies, s.adminResolveAnomaly)

	s.operator("GET", a+"/dead-letters", operator.PermDeadLettersRead, s.adminListDeadLetters)
	s.operator("GET", a+"/dead-letters/{dead_letter_id}", operator.PermDeadLettersRead, s.adminGetDeadLetter)
	s.operator("POST", a+"/dead-letters/{dead_letter_id}/replay", operator.PermDeadLetters, s.adminReplayDeadLetter)

	s.registerAdminOrderRoutes()
}

// ---- channels ----

type adminChannelJSON struct {
	Code                string            `json:"code"`
	Name                string            `json:"name"`
	Active              bool              `json:"active"`
	RealNameMethod      string            `json:"real_name_method"`
	ChargingEnabled     bool              `json:"charging_enabled"`
	PersonalCertService bool              `json:"personal_cert_service"`
	JoinURL             string            `json:"join_url"`
	CreatedAt           time.Time         `json:"created_at"`
	Catalog             []catalogItemJSON `json:"catalog"`
}

func catalogItemOf(it channel.Item) catalogItemJSON {
	return catalogItemJSON{SKU: it.SKU, Name: it.Name, Description: it.Description, Kind: string(it.Kind),
		UnitPriceFen: it.UnitPrice.Fen(), UnitPrice: it.UnitPrice.String(), Grants: it.Grants,
		TaxCode: it.Tax.Code, TaxCategory: it.Tax.Category, TaxRateBP: it.Tax.Rate.BasisPoints(), TaxRate: it.Tax.Rate.String(),
		Unit: it.Unit, Spec: it.Spec}
}

func (s *Server) adminChannel(c *channel.Channel) adminChannelJSON {
	snap := c.Snapshot()
	j := adminChannelJSON{Code: c.Code(), Name: c.Name(), Active: c.Active(), RealNameMethod: string(c.Method()),
		ChargingEnabled: c.ChargingEnabled(), PersonalCertService: c.PersonalCertService(), JoinURL: s.app.ChannelJoinURL(c),
		CreatedAt: snap.CreatedAt, Catalog: []catalogItemJSON{}}
	for _, it := range c.Catalog() {
		j.Catalog = append(j.Catalog, catalogItemOf(it))
	}
	return j
}

type adminChannelPage struct {
	Items      []adminChannelJSON `json:"items"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) adminListChannels(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" && !validCode(cursor) {
		return queryInvalid("cursor", "the value is not a well-formed cursor")
	}
	cs, next, err := s.opts.Operators.Channels(r.Context(), a, cursor, limit)
	if err != nil {
		return err
	}
	out := adminChannelPage{Items: make([]adminChannelJSON, len(cs)), NextCursor: next}
	for i, c := range cs {
		out.Items[i] = s.adminChannel(c)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type createChannelRequest struct {
	Code                string `json:"code"`
	Name                string `json:"name"`
	RealNameMethod      string `json:"real_name_method"`
	ChargingEnabled     bool   `json:"charging_enabled,omitempty"`
	PersonalCertService bool   `json:"personal_cert_service,omitempty"`
}

func (s *Server) adminCreateChannel(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req createChannelRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := s.opts.Operators.CreateChannel(r.Context(), a, operators.NewChannel{Code: req.Code, Name: req.Name,
		RealNameMethod: req.RealNameMethod, ChargingEnabled: req.ChargingEnabled, PersonalCertService: req.PersonalCertService})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.adminChannel(c))
	return nil
}

func (s *Server) adminGetChannel(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	c, err := s.opts.Operators.Channel(r.Context(), a, r.PathValue("code"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.adminChannel(c))
	return nil
}

type editChannelRequest struct {
	Name                *string `json:"name,omitempty"`
	Active              *bool   `json:"active,omitempty"`
	RealNameMethod      *string `json:"real_name_method,omitempty"`
	ChargingEnabled     *bool   `json:"charging_enabled,omitempty"`
	PersonalCertService *bool   `json:"personal_cert_service,omitempty"`
}

func (s *Server) adminEditChannel(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req editChannelRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	e := channel.Edit{Name: req.Name, Active: req.Active, ChargingEnabled: req.ChargingEnabled, PersonalCertService: req.PersonalCertService}
	if req.RealNameMethod != nil {
		m := channel.RealNameMethod(*req.RealNameMethod)
		e.Method = &m
	}
	c, err := s.opts.Operators.EditChannel(r.Context(), a, r.PathValue("code"), e)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.adminChannel(c))
	return nil
}

type catalogItemRequest struct {
	Name         string         `json:"name"`
	Description  string         `json:"description,omitempty"`
	Kind         string         `json:"kind,omitempty"`
	UnitPriceFen int64          `json:"unit_price_fen"`
	Grants       channel.Grants `json:"grants,omitzero"`
	TaxCode      string         `json:"tax_code,omitempty"`
	TaxCategory  string         `json:"tax_category,omitempty"`
	TaxRateBP    *int           `json:"tax_rate_bp,omitempty"`
	Unit         string         `json:"unit,omitempty"`
	Spec         string         `json:"spec,omitempty"`
}

func (s *Server) adminPutItem(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req catalogItemRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	it := channel.Item{SKU: r.PathValue("sku"), Name: req.Name, Description: req.Description, Kind: channel.ItemKind(req.Kind),
		UnitPrice: kernel.Fen(req.UnitPriceFen), Grants: req.Grants, Unit: req.Unit, Spec: req.Spec}
	if it.Kind == "" {
		it.Kind = channel.KindPackage
	}
	if req.TaxCode != "" || req.TaxCategory != "" || req.TaxRateBP != nil {
		it.Tax = channel.Tax{Code: req.TaxCode, Category: req.TaxCategory}
		if req.TaxRateBP != nil {
			it.Tax.Rate = kernel.TaxRate(*req.TaxRateBP)
		}
		if it.Tax.Category == "" {
			it.Tax.Category = channel.DefaultTax.Category
		}
	}
	item, created, err := s.opts.Operators.PutCatalogItem(r.Context(), a, r.PathValue("code"), it)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, catalogItemOf(item))
	return nil
}

func (s *Server) adminDeleteItem(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	if err := s.opts.Operators.DeleteCatalogItem(r.Context(), a, r.PathValue("code"), r.PathValue("sku")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type settingsJSON struct {
	ChargingEnabled       bool   `json:"charging_enabled"`
	DefaultRealNameMethod string `json:"default_real_name_method"`
}

type settingsRequest struct {
	ChargingEnabled       *bool   `json:"charging_enabled,omitempty"`
	DefaultRealNameMethod *string `json:"default_real_name_method,omitempty"`
}

func (s *Server) adminGetSettings(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	p, err := s.opts.Operators.Settings(r.Context(), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, settingsJSON{ChargingEnabled: p.ChargingEnabled, DefaultRealNameMethod: string(p.DefaultMethod)})
	return nil
}

func (s *Server) adminPutSettings(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req settingsRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	p, err := s.opts.Operators.PutSettings(r.Context(), a, operators.SettingsEdit{ChargingEnabled: req.ChargingEnabled,
		DefaultRealNameMethod: req.DefaultRealNameMethod})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, settingsJSON{ChargingEnabled: p.ChargingEnabled, DefaultRealNameMethod: string(p.DefaultMethod)})
	return nil
}

// ---- banners ----

type bannerJSON struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	ImageFileID string     `json:"image_file_id"`
	ImageURL    string     `json:"image_url"`
	TargetType  string     `json:"target_type"`
	TargetValue string     `json:"target_value"`
	SortOrder   int        `json:"sort_order"`
	Active      bool       `json:"active"`
	StartsAt    *time.Time `json:"starts_at,omitempty"`
	EndsAt      *time.Time `json:"ends_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func toBannerJSON(b ports.Banner) bannerJSON {
	j := bannerJSON{ID: b.ID, Title: b.Title, ImageFileID: b.ImageFileID, ImageURL: "/api/v1/banners/" + b.ID + "/image",
		TargetType: b.TargetType, TargetValue: b.TargetValue, SortOrder: b.SortOrder, Active: b.Active, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
	if !b.StartsAt.IsZero() {
		j.StartsAt = &b.StartsAt
	}
	if !b.EndsAt.IsZero() {
		j.EndsAt = &b.EndsAt
	}
	return j
}

type publicBannerJSON struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	ImageURL    string `json:"image_url"`
	TargetType  string `json:"target_type"`
	TargetValue string `json:"target_value"`
}

type bannerRequest struct {
	Title       string     `json:"title,omitempty"`
	ImageFileID string     `json:"image_file_id"`
	TargetType  string     `json:"target_type"`
	TargetValue string     `json:"target_value"`
	SortOrder   int        `json:"sort_order,omitempty"`
	Active      *bool      `json:"active,omitempty"`
	StartsAt    *time.Time `json:"starts_at,omitempty"`
	EndsAt      *time.Time `json:"ends_at,omitempty"`
}

func (req bannerRequest) input() operators.BannerInput {
	in := operators.BannerInput{Title: req.Title, ImageFileID: req.ImageFileID, TargetType: req.TargetType, TargetValue: req.TargetValue,
		SortOrder: req.SortOrder, Active: req.Active == nil || *req.Active}
	if req.StartsAt != nil {
		in.StartsAt = req.StartsAt.UTC()
	}
	if req.EndsAt != nil {
		in.EndsAt = req.EndsAt.UTC()
	}
	return in
}

func (s *Server) adminUploadBannerImage(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	_, data, err := s.readUpload(w, r, "", file.MaxSize)
	if err != nil {
		return err
	}
	rec, err := s.opts.Operators.UploadBannerImage(r.Context(), a, data)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, fileJSON{FileID: string(rec.ID), ContentType: rec.Info.ContentType, Size: rec.Info.Size,
		Width: rec.Info.Width, Height: rec.Info.Height, SHA256: rec.Info.SHA256, Purpose: string(rec.Purpose)})
	return nil
}

type bannerList struct {
	Items []bannerJSON `json:"items"`
}

func (s *Server) adminListBanners(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	bs, err := s.opts.Operators.Banners(r.Context(), a)
	if err != nil {
		return err
	}
	out := bannerList{Items: make([]bannerJSON, len(bs))}
	for i, b := range bs {
		out.Items[i] = toBannerJSON(b)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) adminCreateBanner(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req bannerRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	b, err := s.opts.Operators.CreateBanner(r.Context(), a, req.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toBannerJSON(b))
	return nil
}

func (s *Server) adminUpdateBanner(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req bannerRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	b, err := s.opts.Operators.UpdateBanner(r.Context(), a, r.PathValue("banner_id"), req.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toBannerJSON(b))
	return nil
}

func (s *Server) adminDeleteBanner(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	if err := s.opts.Operators.DeleteBanner(r.Context(), a, r.PathValue("banner_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type publicBannerList struct {
	Items []publicBannerJSON `json:"items"`
}

func (s *Server) publicBanners(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.operatorService()
	if err != nil {
		return err
	}
	bs, err := svc.ActiveBanners(r.Context())
	if err != nil {
		return err
	}
	out := publicBannerList{Items: make([]publicBannerJSON, len(bs))}
	for i, b := range bs {
		out.Items[i] = publicBannerJSON{ID: b.ID, Title: b.Title, ImageURL: "/api/v1/banners/" + b.ID + "/image",
			TargetType: b.TargetType, TargetValue: b.TargetValue}
	}
	w.Header().Set("Cache-Control", "public, max-age=30")
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) publicBannerImage(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.operatorService()
	if err != nil {
		return err
	}
	data, ct, err := svc.BannerImage(r.Context(), r.PathValue("banner_id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(data) //nolint:gosec // a checked PNG or JPEG served with its sniffed type and nosniff
	return nil
}

// ---- enterprises ----

type adminVerificationJSON struct {
	ID             string    `json:"id"`
	Status         string    `json:"status"`
	Method         string    `json:"method"`
	InitiatorRole  string    `json:"initiator_role"`
	EnterpriseName string    `json:"enterprise_name"`
	CreditCode     string    `json:"credit_code"`
	LegalRepName   string    `json:"legal_rep_name"`
	LegalRepPhone  string    `json:"legal_rep_phone"`
	EnterpriseID   string    `json:"enterprise_id,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

func toAdminVerification(v *enterprise.Verification) *adminVerificationJSON {
	if v == nil {
		return nil
	}
	return &adminVerificationJSON{ID: string(v.ID()), Status: string(v.Status()), Method: string(v.Method()), InitiatorRole: string(v.Role()),
		EnterpriseName: v.EnterpriseName(), CreditCode: string(v.CreditCode()), LegalRepName: kernel.MaskName(v.LegalRepName()),
		LegalRepPhone: v.LegalRepPhone().Masked(), EnterpriseID: string(v.EnterpriseID()), CreatedAt: v.CreatedAt()}
}

type adminEnterpriseJSON struct {
	ID                  string                 `json:"id"`
	Name                string                 `json:"name"`
	CreditCode          string                 `json:"credit_code"`
	LegalRepName        string                 `json:"legal_rep_name"`
	Method              string                 `json:"method"`
	VerificationID      string                 `json:"verification_id"`
	VerifiedAt          time.Time              `json:"verified_at"`
	Active              bool                   `json:"active"`
	DeactivatedAt       *time.Time             `json:"deactivated_at,omitempty"`
	CertificateSerial   string                 `json:"certificate_serial,omitempty"`
	CertificateNotAfter *time.Time             `json:"certificate_not_after,omitempty"`
	Verification        *adminVerificationJSON `json:"verification,omitempty"`
}

func toAdminEnterprise(e *enterprise.Enterprise, v *enterprise.Verification) adminEnterpriseJSON {
	j := adminEnterpriseJSON{ID: string(e.ID()), Name: e.Name(), CreditCode: string(e.CreditCode()), LegalRepName: kernel.MaskName(e.LegalRepName()),
		Method: string(e.Method()), VerificationID: string(e.VerificationID()), VerifiedAt: e.VerifiedAt(), Active: !e.Deactivated(),
		Verification: toAdminVerification(v)}
	if e.Deactivated() {
		t := e.DeactivatedAt()
		j.DeactivatedAt = &t
	}
	if c := e.Certificate(); c != nil {
		j.CertificateSerial = c.Serial
		na := c.NotAfter
		j.CertificateNotAfter = &na
	}
	return j
}

type adminEnterprisePage struct {
	Items      []adminEnterpriseJSON `json:"items"`
	NextCursor string                `json:"next_cursor,omitempty"`
}

func (s *Server) adminListEnterprises(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cursor := q.Get("cursor")
	if cursor != "" && !validID(cursor) {
		return queryInvalid("cursor", "the value is not a well-formed cursor")
	}
	es, next, err := s.opts.Operators.Enterprises(r.Context(), a, q.Get("q"), cursor, limit)
	if err != nil {
		return err
	}
	out := adminEnterprisePage{Items: make([]adminEnterpriseJSON, len(es)), NextCursor: next}
	for i, e := range es {
		out.Items[i] = toAdminEnterprise(e, nil)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) adminGetEnterprise(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	d, err := s.opts.Operators.Enterprise(r.Context(), a, r.PathValue("enterprise_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAdminEnterprise(d.Enterprise, d.Verification))
	return nil
}

type deactivateRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) adminDeactivateEnterprise(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req deactivateRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	e, _, err := s.opts.Operators.DeactivateEnterprise(r.Context(), a, r.PathValue("enterprise_id"), req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAdminEnterprise(e, nil))
	return nil
}

func (s *Server) adminGetVerification(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	v, err := s.opts.Operators.Verification(r.Context(), a, r.PathValue("verification_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAdminVerification(v))
	return nil
}

// ---- payment anomalies ----

type anomalyJSON struct {
	ID             string     `json:"id"`
	Kind           string     `json:"kind"`
	OutTradeNo     string     `json:"out_trade_no"`
	OrderID        string     `json:"order_id,omitempty"`
	TransactionID  string     `json:"transaction_id"`
	AmountFen      int64      `json:"amount_fen"`
	NotificationID string     `json:"notification_id,omitempty"`
	At             time.Time  `json:"at"`
	Resolved       bool       `json:"resolved"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy     string     `json:"resolved_by,omitempty"`
	Note           string     `json:"note,omitempty"`
}

func toAnomalyJSON(x ports.AnomalyRecord) anomalyJSON {
	j := anomalyJSON{ID: x.ID, Kind: x.Kind, OutTradeNo: x.OutTradeNo, OrderID: string(x.OrderID), TransactionID: x.TransactionID,
		AmountFen: x.Amount.Fen(), NotificationID: x.NotificationID, At: x.At, Resolved: !x.ResolvedAt.IsZero(), ResolvedBy: x.ResolvedBy, Note: x.Note}
	if j.Resolved {
		t := x.ResolvedAt
		j.ResolvedAt = &t
	}
	return j
}

type anomalyPage struct {
	Items      []anomalyJSON `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func (s *Server) adminListAnomalies(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	cursor := q.Get("cursor")
	if cursor != "" && !validID(cursor) {
		return queryInvalid("cursor", "the value is not a well-formed cursor")
	}
	openOnly := true
	switch q.Get("status") {
	case "", "open":
	case "all":
		openOnly = false
	default:
		return queryInvalid("status", "status is open or all")
	}
	xs, next, err := s.opts.Operators.Anomalies(r.Context(), a, openOnly, cursor, limit)
	if err != nil {
		return err
	}
	out := anomalyPage{Items: make([]anomalyJSON, len(xs)), NextCursor: next}
	for i, x := range xs {
		out.Items[i] = toAnomalyJSON(x)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type resolveRequest struct {
	Note string `json:"note"`
}

func (s *Server) adminResolveAnomaly(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	var req resolveRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	x, err := s.opts.Operators.ResolveAnomaly(r.Context(), a, r.PathValue("anomaly_id"), req.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAnomalyJSON(x))
	return nil
}

// ---- dead letters ----

type deadLetterJSON struct {
	ID        int64     `json:"id"`
	MessageID string    `json:"message_id"`
	Event     string    `json:"event"`
	Handler   string    `json:"handler"`
	Reason    string    `json:"reason"`
	ParkedAt  time.Time `json:"parked_at"`
	Payload   any       `json:"payload,omitempty"`
}

func toDeadLetterJSON(d ports.DeadLetter, withPayload bool) deadLetterJSON {
	j := deadLetterJSON{ID: d.ID, MessageID: d.MessageID, Event: d.Event, Handler: d.Handler, Reason: d.Reason, ParkedAt: d.ParkedAt}
	if withPayload && len(d.Payload) > 0 {
		j.Payload = d.Payload
	}
	return j
}

type deadLetterPage struct {
	Items      []deadLetterJSON `json:"items"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

func deadLetterID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("dead_letter_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, kernel.NotFound("dead-letter-not-found", "no such dead letter")
	}
	return id, nil
}

func (s *Server) adminListDeadLetters(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	var after int64
	if c := r.URL.Query().Get("cursor"); c != "" {
		if after, err = strconv.ParseInt(c, 10, 64); err != nil || after < 0 {
			return queryInvalid("cursor", "the value is not a well-formed cursor")
		}
	}
	ds, next, err := s.opts.Operators.DeadLetters(r.Context(), a, after, limit)
	if err != nil {
		return err
	}
	out := deadLetterPage{Items: make([]deadLetterJSON, len(ds))}
	if next > 0 {
		out.NextCursor = strconv.FormatInt(next, 10)
	}
	for i, d := range ds {
		out.Items[i] = toDeadLetterJSON(d, false)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) adminGetDeadLetter(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	id, err := deadLetterID(r)
	if err != nil {
		return err
	}
	d, err := s.opts.Operators.DeadLetter(r.Context(), a, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toDeadLetterJSON(d, true))
	return nil
}

func (s *Server) adminReplayDeadLetter(w http.ResponseWriter, r *http.Request, a operators.Actor) error {
	id, err := deadLetterID(r)
	if err != nil {
		return err
	}
	d, err := s.opts.Operators.ReplayDeadLetter(r.Context(), a, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toDeadLetterJSON(d, false))
	return nil
}
