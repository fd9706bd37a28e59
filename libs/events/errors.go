package events

import "errors"

var (
	// ErrMalformed: the bytes are not a JSON object of the announced type
	// (not JSON, wrong field types, no "schema" field).
	ErrMalformed = errors.New("malformed message")
	// ErrUnknownSchema: the "schema" field names a message type or version this
	// build does not know.
	ErrUnknownSchema = errors.New("unknown message schema")
	// ErrInvalid: the message decoded but breaks the contract (a required field
	// missing, a value out of range). Returned by every Validate.
	ErrInvalid = errors.New("invalid message")
)
