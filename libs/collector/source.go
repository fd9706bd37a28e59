// Package collector is the cloud-neutral half of a collector: what a cloud
// Source must provide, the throttling retry every cloud needs, and (in
// runner.go) the pass machinery that turns listings into snapshot chunks and
// a close record on JetStream.
package collector

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmssync/jmssync/libs/asset"
	"github.com/jmssync/jmssync/libs/events"
)

// Source lists one cloud account's instances, region by region, through the
// cloud's official SDK. Implementations are safe for concurrent use across
// regions.
type Source interface {
	// Identity returns the cloud account the credentials belong to, as the
	// cloud reports it (Aliyun account id, Huawei domain id). A pass records
	// it so that a key swapped to another account never deletes anything.
	Identity(ctx context.Context, region string) (string, error)
	// List lists every instance of region, completely, or fails with a
	// *ListError. It never returns a partial listing without an error.
	List(ctx context.Context, region string) (*Listing, error)
}

// Listing is one complete listing of a region.
type Listing struct {
	// Instances are normalised (asset.Instance.Normalize) with Provider,
	// AccountID and Region set.
	Instances []asset.Instance
	// Probes are checks made besides listing (DryRun permission probe…).
	Probes []events.Probe
	// Calls counts API requests, retries included; Pages the pages read.
	Calls int
	Pages int
}

// ListError is a failed listing. Reason is one of the events.Reason* codes;
// Detail is safe to publish and log: it names the account and region and
// never carries a secret.
type ListError struct {
	Reason string
	Detail string
	Err    error
	// Probes made before the failure, if any.
	Probes []events.Probe
	Calls  int
}

func (e *ListError) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

func (e *ListError) Unwrap() error { return e.Err }

// Failf builds a *ListError with a formatted detail. Never pass a secret.
func Failf(reason string, err error, format string, args ...any) *ListError {
	return &ListError{Reason: reason, Detail: fmt.Sprintf(format, args...), Err: err}
}

// AsListError returns err as a *ListError, wrapping a foreign error as an
// api_error (with its text, which callers must have made secret-free).
func AsListError(err error) *ListError {
	var le *ListError
	if errors.As(err, &le) {
		return le
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &ListError{Reason: events.ReasonTimeout, Detail: err.Error(), Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &ListError{Reason: events.ReasonCanceled, Detail: err.Error(), Err: err}
	}
	return &ListError{Reason: events.ReasonAPIError, Detail: err.Error(), Err: err}
}
