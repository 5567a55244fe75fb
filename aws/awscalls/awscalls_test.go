package awscalls_test

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/longrun/longrun/aws/awscalls"
)

// What an input names is what IAM checks: the table and index, each of a
// transaction's items by its action, the queue, the bucket and object.
func TestResourcesNameWhatIAMChecks(t *testing.T) {
	for _, c := range []struct {
		in   any
		want []string
	}{
		{&dynamodb.QueryInput{TableName: aws.String("configs"), IndexName: aws.String("byOwner")}, []string{"table:configs", "index:configs/byOwner"}},
		{&dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String("results")}}, {Delete: &types.Delete{TableName: aws.String("configs")}}}},
			[]string{"put:results", "delete:configs"}},
		{&sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String("http://q/jobs")}, []string{"queue:http://q/jobs"}},
		{&dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"results": {}}}, []string{"table:results"}},
		{&s3.HeadObjectInput{Bucket: aws.String("images"), Key: aws.String("counts/h.counts")}, []string{"bucket:images", "object:images/counts/h.counts"}},
		{"not an input", nil},
	} {
		got := awscalls.Resources(c.in)
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%T: got %v, want %v", c.in, got, want)
		}
	}
}

// Without the variable, nothing is added to the clients.
func TestNothingIsRecordedUnlessATestAsks(t *testing.T) {
	var cfg aws.Config
	if err := awscalls.FromEnv(&cfg, func(string) string { return "" }); err != nil || len(cfg.APIOptions) != 0 {
		t.Errorf("FromEnv with no %s: %v, %d API options added", awscalls.Env, err, len(cfg.APIOptions))
	}
}
