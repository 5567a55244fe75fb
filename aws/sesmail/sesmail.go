// Package sesmail sends notification e-mails through Amazon SES v2.
package sesmail

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/longrun/longrun/notify"
)

// A Mailer sends from one verified identity.
type Mailer struct {
	Client *sesv2.Client
	From   string
	// ConfigurationSet routes the sends' bounces and complaints (to the
	// notify function, which suppresses those addresses); "" for none.
	ConfigurationSet string
}

// Mailer implements this port.
var _ notify.Mailer = (*Mailer)(nil)

// Send sends m as plain text, and as HTML beside it when it has that.
// A rejected message is refused for good (notify.ErrRefused); anything
// else may pass on a retry.
func (s *Mailer) Send(ctx context.Context, m notify.Mail) error {
	msg := &types.Message{
		Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
		Body:    &types.Body{Text: &types.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")}},
	}
	if m.HTML != "" {
		msg.Body.Html = &types.Content{Data: aws.String(m.HTML), Charset: aws.String("UTF-8")}
	}
	if m.Unsubscribe != "" {
		msg.Headers = []types.MessageHeader{
			{Name: aws.String("List-Unsubscribe"), Value: aws.String("<" + m.Unsubscribe + ">")},
			{Name: aws.String("List-Unsubscribe-Post"), Value: aws.String("List-Unsubscribe=One-Click")},
		}
	}
	in := &sesv2.SendEmailInput{FromEmailAddress: &s.From, Destination: &types.Destination{ToAddresses: []string{m.To}},
		Content: &types.EmailContent{Simple: msg}}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = &s.ConfigurationSet
	}
	_, err := s.Client.SendEmail(ctx, in)
	var rejected *types.MessageRejected
	if errors.As(err, &rejected) {
		return fmt.Errorf("%w: %w", notify.ErrRefused, err)
	}
	return err
}
