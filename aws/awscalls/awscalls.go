// Package awscalls records the AWS operations a process performs, with the
// resources each names, as JSON lines: what the IAM test compares with the
// roles in template.yaml. A Lambda binary records only when a test asks
// (LONGRUN_AWS_CALLS names the file); on AWS nothing is added to any call.
package awscalls

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Env is the variable naming the file calls are appended to.
const Env = "LONGRUN_AWS_CALLS"

// A Call is one AWS operation as performed.
type Call struct {
	Service   string `json:"service"`   // the SDK's service id: "DynamoDB", "SQS", "S3"…
	Operation string `json:"operation"` // "PutItem"
	// Resources are what the input names: "table:NAME", "index:TABLE/NAME",
	// "queue:URL", "bucket:NAME", "object:BUCKET/KEY", "secret:ID",
	// "from:ADDRESS", "configuration-set:NAME", "connection:ID"; a
	// transaction's items as "put:TABLE", "update:TABLE", "delete:TABLE",
	// "check:TABLE".
	Resources []string `json:"resources,omitempty"`
	// Status is the HTTP status of a failed call (404 for a missing key).
	Status int    `json:"status,omitempty"`
	Code   string `json:"code,omitempty"` // the service's error code
}

// FromEnv makes cfg's clients record their calls in the file getenv(Env)
// names, if it names one.
func FromEnv(cfg *aws.Config, getenv func(string) string) error {
	path := getenv(Env)
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	Record(cfg, func(c Call) {
		b, _ := json.Marshal(c)
		f.Write(append(b, '\n')) // one write per line: lines of several processes do not interleave
	})
	return nil
}

// Record makes cfg's clients hand each call to record, once it is done.
func Record(cfg *aws.Config, record func(Call)) {
	var mu sync.Mutex
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("longrunRecordCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				c := Call{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx), Resources: Resources(in.Parameters)}
				var re *smithyhttp.ResponseError
				if errors.As(err, &re) {
					c.Status = re.HTTPStatusCode()
				}
				var ae smithy.APIError
				if errors.As(err, &ae) {
					c.Code = ae.ErrorCode()
				}
				mu.Lock()
				record(c)
				mu.Unlock()
				return out, md, err
			}), middleware.After)
	})
}

// Resources returns what an operation's input names, read from its fields
// by name (every SDK input spells them the same way).
func Resources(input any) []string {
	v := reflect.Indirect(reflect.ValueOf(input))
	if v.Kind() != reflect.Struct {
		return nil
	}
	str := func(name string) string { return stringField(v, name) }
	var out []string
	add := func(s, prefix string) {
		if s != "" {
			out = append(out, prefix+s)
		}
	}
	table := str("TableName")
	add(table, "table:")
	if ix := str("IndexName"); ix != "" {
		out = append(out, "index:"+table+"/"+ix)
	}
	add(str("QueueUrl"), "queue:")
	if b := str("Bucket"); b != "" {
		out = append(out, "bucket:"+b)
		if k := str("Key"); k != "" {
			out = append(out, "object:"+b+"/"+k)
		}
	}
	for name, prefix := range map[string]string{"SecretId": "secret:", "FromEmailAddress": "from:",
		"ConfigurationSetName": "configuration-set:", "ConnectionId": "connection:", "StreamArn": "stream:"} {
		add(str(name), prefix)
	}
	return append(append(out, transactTables(v)...), batchTables(v)...)
}

// batchTables names the tables of a batch (RequestItems, by table name).
func batchTables(v reflect.Value) []string {
	items := v.FieldByName("RequestItems")
	if !items.IsValid() || items.Kind() != reflect.Map {
		return nil
	}
	var out []string
	for _, k := range items.MapKeys() {
		out = append(out, "table:"+k.String())
	}
	slices.Sort(out)
	return out
}

// stringField is the value of v's field name when it is a non-nil
// *string; "" otherwise.
func stringField(v reflect.Value, name string) string {
	f := v.FieldByName(name)
	if f.IsValid() && f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.String && !f.IsNil() {
		return f.Elem().String()
	}
	return ""
}

// transactTables names the table of each item of a transaction
// (TransactItems), by what the item does to it.
func transactTables(v reflect.Value) []string {
	items := v.FieldByName("TransactItems")
	if !items.IsValid() || items.Kind() != reflect.Slice {
		return nil
	}
	var out []string
	for i := range items.Len() {
		item := items.Index(i)
		for field, prefix := range map[string]string{"Put": "put:", "Update": "update:", "Delete": "delete:", "ConditionCheck": "check:"} {
			if p := item.FieldByName(field); p.IsValid() && !p.IsNil() {
				if t := stringField(p.Elem(), "TableName"); t != "" {
					out = append(out, prefix+t)
				}
			}
		}
	}
	return out
}
