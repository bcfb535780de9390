package views

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/zplan/zplan/apply"
)

// The address of each refused action comes from apply's typed error,
// not from cutting its text: an address may hold ": " itself.
func TestStaleMessageUsesTypedAddress(t *testing.T) {
	err := errors.Join(
		&apply.ActionError{Address: `destroy.src["odd: name"]`, Err: fmt.Errorf("checking: %w", &apply.StaleError{Fact: "src no longer has tank@a"})},
		&apply.ActionError{Address: "send.x", Err: errors.New("zfs failed")},
		&apply.ActionError{Address: "hold.y", Err: &apply.StaleError{Fact: "guid changed"}},
	)
	got := StaleMessage(err, true).Error()
	want := `Saved plan is stale: destroy.src["odd: name"]: src no longer has tank@a; hold.y: guid changed. The hosts changed since the plan was made; make a new plan`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if plain := errors.New("x"); StaleMessage(plain, false) != plain {
		t.Fatal("an error without a stale action is returned as it is")
	}
	if !strings.HasPrefix(StaleMessage(err, false).Error(), "The plan is stale: ") {
		t.Fatal("not a saved plan")
	}
}
