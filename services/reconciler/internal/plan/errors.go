package plan

import "errors"

// ErrInvalidPolicy is wrapped by Policy.Validate errors.
var ErrInvalidPolicy = errors.New("plan: invalid policy")

// ErrInvalidInput is wrapped by Diff when the input cannot be decided on.
var ErrInvalidInput = errors.New("plan: invalid input")
