package dynamo

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/longrun/longrun/aws/attr"
)

// itemBuilder builds the SDK's attribute values.
var itemBuilder = attr.Builder[types.AttributeValue]{
	S:    func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} },
	N:    func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} },
	Bool: func(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} },
	Null: func() types.AttributeValue { return &types.AttributeValueMemberNULL{Value: true} },
	M: func(v map[string]types.AttributeValue) types.AttributeValue {
		return &types.AttributeValueMemberM{Value: v}
	},
	L: func(v []types.AttributeValue) types.AttributeValue { return &types.AttributeValueMemberL{Value: v} },
}

// Item turns a JSON record into a DynamoDB item: numbers stay exact strings.
func Item(record []byte) (map[string]types.AttributeValue, error) {
	t, err := attr.Tree(record)
	if err != nil {
		return nil, err
	}
	return attr.BuildMap(t, itemBuilder), nil
}

// Record turns a DynamoDB item back into its JSON record.
func Record(m map[string]types.AttributeValue) ([]byte, error) { return attr.ReadRecord(m, read) }

func read(a types.AttributeValue) (any, map[string]types.AttributeValue, []types.AttributeValue, attr.Kind, error) {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		return a.Value, nil, nil, attr.Scalar, nil
	case *types.AttributeValueMemberN:
		return json.Number(a.Value), nil, nil, attr.Scalar, nil
	case *types.AttributeValueMemberBOOL:
		return a.Value, nil, nil, attr.Scalar, nil
	case *types.AttributeValueMemberNULL:
		return nil, nil, nil, attr.Scalar, nil
	case *types.AttributeValueMemberM:
		return nil, a.Value, nil, attr.Map, nil
	case *types.AttributeValueMemberL:
		return nil, nil, a.Value, attr.List, nil
	}
	return nil, nil, nil, attr.Scalar, fmt.Errorf("unsupported attribute type %T", a)
}

func s(v string) types.AttributeValue { return itemBuilder.S(v) }
func n(v int64) types.AttributeValue  { return itemBuilder.N(fmt.Sprint(v)) }

// decimal is a number attribute of v, its fraction included.
func decimal(v float64) types.AttributeValue {
	return itemBuilder.N(strconv.FormatFloat(v, 'f', -1, 64))
}
