// Package awsfaults tests the AWS adapters and the core together when an AWS
// service fails: a render whose image cannot be stored, a notification whose
// e-mail is refused. The tests live in the _test file; this package has no
// code of its own.
package awsfaults
