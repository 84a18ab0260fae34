package operators

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/ports"
)

// Banner figures.
const (
	MaxBanners       = 50
	PublicBannerPage = 20
)

// Banner targets.
const (
	TargetCatalog = "catalog" // the catalog page of a channel (value: the channel code)
	TargetURL     = "url"     // an http or https URL
)

// BannerInput is a banner to create or the new state of one.
type BannerInput struct {
	Title       string
	ImageFileID string
	TargetType  string
	TargetValue string
	SortOrder   int
	Active      bool
	StartsAt    time.Time
	EndsAt      time.Time
}

func (s *Service) checkBanner(ctx context.Context, tx ports.Tx, in *BannerInput) error {
	in.Title = strings.TrimSpace(in.Title)
	in.TargetValue = strings.TrimSpace(in.TargetValue)
	switch {
	case utf8.RuneCountInString(in.Title) > 64:
		return kernel.Invalid("banner-title-invalid", "the title is at most 64 characters")
	case in.SortOrder < 0 || in.SortOrder > 10000:
		return kernel.Invalid("banner-order-invalid", "sort_order is 0 to 10000")
	case !in.StartsAt.IsZero() && !in.EndsAt.IsZero() && !in.EndsAt.After(in.StartsAt):
		return kernel.Invalid("banner-window-invalid", "ends_at must be after starts_at")
	}
	switch in.TargetType {
	case TargetCatalog:
		if _, err := tx.Channels().GetByCode(ctx, strings.ToLower(in.TargetValue)); err != nil {
			if kernel.KindOf(err) == kernel.KindNotFound {
				return kernel.Invalid("banner-target-invalid", "the target channel does not exist")
			}
			return err
		}
		in.TargetValue = strings.ToLower(in.TargetValue)
	case TargetURL:
		u, err := url.Parse(in.TargetValue)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(in.TargetValue) > 512 {
			return kernel.Invalid("banner-target-invalid", "the target URL must be an absolute http or https URL (at most 512 characters)")
		}
	default:
		return kernel.Invalid("banner-target-invalid", "target_type is catalog or url")
	}
	rec, err := tx.Files().Get(ctx, kernel.FileID(in.ImageFileID))
	if kernel.KindOf(err) == kernel.KindNotFound {
		return kernel.Invalid("banner-image-invalid", "image_file_id is not an uploaded banner image")
	}
	if err != nil {
		return err
	}
	if rec.Purpose != file.PurposeBanner {
		return kernel.Invalid("banner-image-invalid", "image_file_id is not an uploaded banner image")
	}
	return nil
}

// Banners lists every banner by sort order (the console).
func (s *Service) Banners(ctx context.Context, a Actor) ([]ports.Banner, error) {
	if err := a.Require(operator.PermRead); err != nil {
		return nil, err
	}
	var out []ports.Banner
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Banners().List(ctx, MaxBanners)
		return err
	})
	return out, err
}

// ActiveBanners is the public list: active banners whose window contains now, by sort order.
func (s *Service) ActiveBanners(ctx context.Context) ([]ports.Banner, error) {
	var out []ports.Banner
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Banners().ActiveAt(ctx, s.clock.Now(), PublicBannerPage)
		return err
	})
	return out, err
}

// BannerImage returns the image of an active banner (public) or of any banner (console: any=true).
func (s *Service) BannerImage(ctx context.Context, id string) (data []byte, contentType string, err error) {
	var rec ports.FileRecord
	if err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		b, err := tx.Banners().Get(ctx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if !b.Active || (!b.StartsAt.IsZero() && now.Before(b.StartsAt)) || (!b.EndsAt.IsZero() && !now.Before(b.EndsAt)) {
			return kernel.NotFound("banner-not-found", "no such banner")
		}
		rec, err = tx.Files().Get(ctx, kernel.FileID(b.ImageFileID))
		return err
	}); err != nil {
		return nil, "", err
	}
	data, err = s.files.Get(ctx, rec.StorageKey)
	if err != nil {
		return nil, "", kernel.Internal(err)
	}
	return data, rec.Info.ContentType, nil
}

// UploadBannerImage stores a PNG or JPEG for a banner (checked by content).
func (s *Service) UploadBannerImage(ctx context.Context, a Actor, data []byte) (ports.FileRecord, error) {
	if err := a.Require(operator.PermBanners); err != nil {
		return ports.FileRecord{}, err
	}
	info, err := file.Inspect(file.PurposeBanner, data)
	if err != nil {
		return ports.FileRecord{}, err
	}
	id := kernel.FileID(s.ids.NewID())
	rec := ports.FileRecord{ID: id, OwnerID: kernel.UserID("operator:" + string(a.OperatorID)), Purpose: file.PurposeBanner, Info: info,
		StorageKey: "files/" + string(id), CreatedAt: s.clock.Now()}
	if err := s.files.Put(ctx, rec.StorageKey, data); err != nil {
		return ports.FileRecord{}, kernel.Internal(err)
	}
	if err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Files().Add(ctx, rec); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "banner_image.upload", "file", string(id), nil,
			map[string]any{"content_type": info.ContentType, "size": info.Size, "sha256": info.SHA256})
	}); err != nil {
		_ = s.files.Delete(ctx, rec.StorageKey)
		return ports.FileRecord{}, err
	}
	return rec, nil
}

type bannerAudit struct {
	Title       string     `json:"title"`
	ImageFileID string     `json:"image_file_id"`
	TargetType  string     `json:"target_type"`
	TargetValue string     `json:"target_value"`
	SortOrder   int        `json:"sort_order"`
	Active      bool       `json:"active"`
	StartsAt    *time.Time `json:"starts_at,omitempty"`
	EndsAt      *time.Time `json:"ends_at,omitempty"`
}

func auditBanner(b ports.Banner) bannerAudit {
	out := bannerAudit{Title: b.Title, ImageFileID: b.ImageFileID, TargetType: b.TargetType, TargetValue: b.TargetValue,
		SortOrder: b.SortOrder, Active: b.Active}
	if !b.StartsAt.IsZero() {
		out.StartsAt = &b.StartsAt
	}
	if !b.EndsAt.IsZero() {
		out.EndsAt = &b.EndsAt
	}
	return out
}

// CreateBanner adds a banner.
func (s *Service) CreateBanner(ctx context.Context, a Actor, in BannerInput) (ports.Banner, error) {
	if err := a.Require(operator.PermBanners); err != nil {
		return ports.Banner{}, err
	}
	now := kernel.OccurredAt(s.clock.Now())
	var b ports.Banner
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := s.checkBanner(ctx, tx, &in); err != nil {
			return err
		}
		all, err := tx.Banners().List(ctx, MaxBanners)
		if err != nil {
			return err
		}
		if len(all) >= MaxBanners {
			return kernel.Precondition("banners-full", "there are at most 50 banners: delete one first")
		}
		b = ports.Banner{ID: s.ids.NewID(), Title: in.Title, ImageFileID: in.ImageFileID, TargetType: in.TargetType, TargetValue: in.TargetValue,
			SortOrder: in.SortOrder, Active: in.Active, StartsAt: in.StartsAt, EndsAt: in.EndsAt, CreatedAt: now, UpdatedAt: now}
		if err := tx.Banners().Add(ctx, b); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "banner.create", "banner", b.ID, nil, auditBanner(b))
	})
	return b, err
}

// UpdateBanner replaces a banner's fields.
func (s *Service) UpdateBanner(ctx context.Context, a Actor, id string, in BannerInput) (ports.Banner, error) {
	if err := a.Require(operator.PermBanners); err != nil {
		return ports.Banner{}, err
	}
	var b ports.Banner
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		old, err := tx.Banners().Get(ctx, id)
		if err != nil {
			return err
		}
		if err := s.checkBanner(ctx, tx, &in); err != nil {
			return err
		}
		b = ports.Banner{ID: old.ID, Title: in.Title, ImageFileID: in.ImageFileID, TargetType: in.TargetType, TargetValue: in.TargetValue,
			SortOrder: in.SortOrder, Active: in.Active, StartsAt: in.StartsAt, EndsAt: in.EndsAt, CreatedAt: old.CreatedAt,
			UpdatedAt: kernel.OccurredAt(s.clock.Now())}
		if err := tx.Banners().Save(ctx, b); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "banner.update", "banner", id, auditBanner(old), auditBanner(b))
	})
	return b, err
}

// DeleteBanner removes a banner.
func (s *Service) DeleteBanner(ctx context.Context, a Actor, id string) error {
	if err := a.Require(operator.PermBanners); err != nil {
		return err
	}
	return s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		old, err := tx.Banners().Get(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.Banners().Delete(ctx, id); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "banner.delete", "banner", id, auditBanner(old), nil)
	})
}
