package signature_test

import (
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
	"github.com/shuxinqian/server/domain/signature"
)

// wantErr asserts the kind and the stable code of err.
var wantErr = kerneltest.WantErr

const (
	sigID               = "01HSIG"
	uid   kernel.UserID = "01HUSER"
	fid   kernel.FileID = "01HFILE"
)

func TestFigures(t *testing.T) {
	if signature.MaxPerUser != 20 {
		t.Errorf("MaxPerUser = %d, want 20", signature.MaxPerUser)
	}
	if signature.KindUploaded != "uploaded" || signature.KindGenerated != "generated" {
		t.Error("published kinds changed")
	}
}

func TestNew(t *testing.T) {
	local := time.Date(2026, 11, 26, 17, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	want := kernel.OccurredAt(local)
	cases := []struct {
		name  string
		kind  signature.Kind
		count int
		def   bool
	}{
		{"first uploaded is the default", signature.KindUploaded, 0, true},
		{"first generated is the default", signature.KindGenerated, 0, true},
		{"second is not the default", signature.KindUploaded, 1, false},
		{"nineteenth existing", signature.KindGenerated, 19, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := signature.New(sigID, uid, fid, tc.kind, tc.count, local)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			exp := signature.Signature{ID: sigID, UserID: uid, FileID: fid, Kind: tc.kind, Default: tc.def, CreatedAt: want}
			if s != exp {
				t.Errorf("New = %+v, want %+v", s, exp)
			}
			if s.CreatedAt.Location() != time.UTC || s.CreatedAt.Nanosecond()%1000 != 0 {
				t.Errorf("CreatedAt = %v, want UTC truncated to µs", s.CreatedAt)
			}
		})
	}
}

func TestNewRefusals(t *testing.T) {
	cases := []struct {
		name  string
		id    string
		uid   kernel.UserID
		fid   kernel.FileID
		kind  signature.Kind
		count int
		ek    kernel.Kind
		code  string
	}{
		{"limit reached", sigID, uid, fid, signature.KindUploaded, 20, kernel.KindPrecondition, "signature-limit"},
		{"over the limit", sigID, uid, fid, signature.KindGenerated, 25, kernel.KindPrecondition, "signature-limit"},
		{"limit checked before completeness", "", "", "", "", 20, kernel.KindPrecondition, "signature-limit"},
		{"missing id", "", uid, fid, signature.KindUploaded, 0, kernel.KindInvalid, "signature-incomplete"},
		{"missing owner", sigID, "", fid, signature.KindUploaded, 0, kernel.KindInvalid, "signature-incomplete"},
		{"missing file", sigID, uid, "", signature.KindUploaded, 0, kernel.KindInvalid, "signature-incomplete"},
		{"missing kind", sigID, uid, fid, "", 0, kernel.KindInvalid, "signature-incomplete"},
		{"bad kind", sigID, uid, fid, "drawn", 0, kernel.KindInvalid, "signature-incomplete"},
		{"upper-case kind", sigID, uid, fid, "Uploaded", 3, kernel.KindInvalid, "signature-incomplete"},
		{"all missing", "", "", "", "", 0, kernel.KindInvalid, "signature-incomplete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := signature.New(tc.id, tc.uid, tc.fid, tc.kind, tc.count, time.Now())
			e := wantErr(t, err, tc.ek, tc.code)
			if s != (signature.Signature{}) {
				t.Errorf("New returned %+v with an error, want zero", s)
			}
			if tc.code == "signature-limit" {
				if e.Details["max"] != signature.MaxPerUser {
					t.Errorf("details = %v, want max %d", e.Details, signature.MaxPerUser)
				}
			}
		})
	}
}

func TestLimitSweep(t *testing.T) {
	for count := 0; count <= signature.MaxPerUser+1; count++ {
		s, err := signature.New(sigID, uid, fid, signature.KindUploaded, count, time.Now())
		if count < signature.MaxPerUser {
			if err != nil {
				t.Errorf("count %d: %v, want nil", count, err)
			}
			if s.Default != (count == 0) {
				t.Errorf("count %d: Default = %v", count, s.Default)
			}
			continue
		}
		_ = wantErr(t, err, kernel.KindPrecondition, "signature-limit")
	}
}
