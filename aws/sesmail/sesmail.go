// Package sesmail sends notification e-mails through Amazon SES v2.
package sesmail

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/longrun/longrun/notify"
)

// A Mailer sends from one verified identity.
type Mailer struct {
	Client *sesv2.Client
	From   string
}

// Mailer implements this port.
var _ notify.Mailer = (*Mailer)(nil)

// Send sends m as plain text.
func (s *Mailer) Send(ctx context.Context, m notify.Mail) error {
	_, err := s.Client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: &s.From,
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")}},
		}},
	})
	return err
}
