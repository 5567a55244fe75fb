package emf_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/emf"
)

func TestLinesAreEmbeddedMetricFormat(t *testing.T) {
	var buf bytes.Buffer
	l := &emf.Recorder{W: &buf, Dimensions: map[string]string{"Function": "notify"}, Now: func() time.Time { return time.UnixMilli(1795748400000) }}
	l.Add(longrun.MetricNotifications, 1, "channel", "email", "outcome", "sent")
	var line struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Function, Channel, Outcome string
		Notifications              float64
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%s: %v", buf.Bytes(), err)
	}
	d := line.AWS.CloudWatchMetrics[0]
	if line.AWS.Timestamp != 1795748400000 || d.Namespace != "longrun" || d.Metrics[0].Name != "Notifications" ||
		d.Metrics[0].Unit != "Count" || line.Notifications != 1 || line.Function != "notify" || line.Channel != "email" {
		t.Errorf("got %s", buf.Bytes())
	}
	if len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 3 {
		t.Errorf("dimensions %v, want Function, channel, outcome", d.Dimensions)
	}
}

func TestNames(t *testing.T) {
	for metric, want := range map[string]string{
		longrun.MetricJobsRendered: "JobsRendered", longrun.MetricRenderSeconds: "RenderDuration",
		longrun.MetricAPIRequests: "ApiRequests", longrun.MetricQueueOldestAge: "QueueOldestAge",
	} {
		if got := emf.Name(metric); got != want {
			t.Errorf("Name(%s) = %s, want %s", metric, got, want)
		}
	}
}

func TestEveryCoreMetricHasALine(t *testing.T) {
	for _, m := range longrun.MetricList {
		var buf bytes.Buffer
		l := &emf.Recorder{W: &buf}
		if m.Kind == longrun.Counter {
			l.Add(m.Name, 1)
		} else {
			l.Observe(m.Name, 1)
		}
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line[emf.Name(m.Name)] != 1.0 {
			t.Errorf("%s: line %s, want its value under %s", m.Name, buf.Bytes(), emf.Name(m.Name))
		}
		unit := "Count"
		if m.Seconds {
			unit = "Seconds"
		}
		if !bytes.Contains(buf.Bytes(), []byte(`"Unit":"`+unit+`"`)) {
			t.Errorf("%s: line %s, want unit %s", m.Name, buf.Bytes(), unit)
		}
	}
	if n := len(emf.Names()); n != len(longrun.MetricList) {
		t.Errorf("%d CloudWatch names for %d metrics", n, len(longrun.MetricList))
	}
}
