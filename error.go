package longrun

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error codes. The HTTP layer maps each to a status in one place.
const (
	EINVALID              = "invalid"                // bad input: 400 or 422
	EUNAUTHORIZED         = "unauthorized"           // no or a wrong operator token: 401
	ENOTFOUND             = "not_found"              // 404
	EMETHOD               = "method_not_allowed"     // the path exists with other methods: 405, with Allow
	ECONFLICT             = "conflict"               // a write lost a race: 409
	EPRECONDITION         = "precondition_failed"    // If-Match does not match: 412
	ETOOLARGE             = "too_large"              // request body over the limit: 413
	EMEDIATYPE            = "unsupported_media_type" // not JSON: 415
	EPRECONDITIONREQUIRED = "precondition_required"  // an edit without If-Match: 428
	ETOOMANY              = "too_many_requests"      // over a quota or rate limit: 429, with Retry-After
	EFORBIDDEN            = "forbidden"              // a cross-site request: 403
	EUNAVAILABLE          = "unavailable"            // a backend is down; retry: 503
	EINTERNAL             = "internal"               // 500
)

// An Error is a failure a client can act on.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Cause is the failure behind the error, for logs; clients never see it.
	Cause error
	// RetryAfter says when to try again, for ETOOMANY.
	RetryAfter time.Duration
}

// A FieldError names a field of the request body and the rule it broke.
type FieldError struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Rule
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is an *Error with the same code and message,
// so errors.Is matches a sentinel *Error whatever its cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == e.Message
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable is the error of a backend (what: "the database", "the
// image store") that failed: a plain message for the client, and the
// driver's error as the cause, for the logs.
func Unavailable(what string, err error) *Error {
	return &Error{Code: EUNAVAILABLE, Message: what + " is unavailable; retry shortly", Cause: err}
}

// ErrorCode returns err's code: EINTERNAL unless err is or wraps an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// FieldErrors collects validation failures.
type FieldErrors struct{ errs []FieldError }

// Add records that field broke rule.
func (fe *FieldErrors) Add(field, rule string) { fe.errs = append(fe.errs, FieldError{field, rule}) }

// Err returns an EINVALID *Error listing the failures, or nil if none.
func (fe *FieldErrors) Err() error {
	if len(fe.errs) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "invalid request", Fields: fe.errs}
}

// Fields returns err's field errors, if it has any.
func Fields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
