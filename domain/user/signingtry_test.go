package user_test

import (
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
)

func TestReserveSigningTry(t *testing.T) {
	u := withCertificate(t)
	// Five reservations use up the tries; the sixth is refused before any key is opened.
	var last user.SigningTry
	for want := 4; want >= 0; want-- {
		try, err := u.ReserveSigningTry(rnNow)
		if err != nil || try.Left != want {
			t.Fatalf("reserve: %+v %v, want %d left", try, err, want)
		}
		last = try
	}
	if _, err := u.ReserveSigningTry(rnNow); kernel.CodeOf(err) != "signing-locked" {
		t.Fatalf("sixth reservation: %v", err)
	}
	// The last allowed try was right: the lock it set is lifted.
	u.SigningTryAccepted(last, rnNow)
	if err := u.CanUseSigningKey(rnNow); err != nil {
		t.Fatalf("after the right last try: %v", err)
	}
	// A right try does not lift a lock other tries set meanwhile.
	early, _ := u.ReserveSigningTry(rnNow)
	for range 4 {
		_, _ = u.ReserveSigningTry(rnNow)
	}
	u.SigningTryAccepted(early, rnNow)
	if err := u.CanUseSigningKey(rnNow); kernel.CodeOf(err) != "signing-locked" {
		t.Fatalf("a right early try lifted the others' lock: %v", err)
	}
}

// A right try forgives the failures before it but not the tries reserved after it: parallel wrong
// guesses stay counted while the owner's right one is checked.
func TestSigningTryAcceptedKeepsLaterReservations(t *testing.T) {
	u := withCertificate(t)
	_, _ = u.ReserveSigningTry(rnNow)        // wrong, before
	right, _ := u.ReserveSigningTry(rnNow)   // the owner's right try (3 left)
	later, err := u.ReserveSigningTry(rnNow) // a parallel guess reserved after it (2 left)
	if err != nil || right.Left != 3 || later.Left != 2 {
		t.Fatalf("reservations: %+v %+v %v", right, later, err)
	}
	u.SigningTryAccepted(right, rnNow)
	// The earlier failure is forgiven, the later reservation still counts: 3 left after the next.
	next, err := u.ReserveSigningTry(rnNow)
	if err != nil || next.Left != 3 {
		t.Fatalf("after the right try: %+v %v, want 3 left", next, err)
	}
}
