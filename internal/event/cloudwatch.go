package event

import (
	"errors"
)

// alarmSeverity rates a CloudWatch alarm by the state it moved to.
var alarmSeverity = map[string]float64{
	"ALARM": 5,
}

// alarmDimensions say which metric dimensions name a resource Firebreak acts on.
var alarmDimensions = []struct {
	name string
	kind Kind
}{
	{"InstanceId", KindInstance},
	{"FunctionName", KindLambdaFunction},
	{"DBInstanceIdentifier", KindRDSInstance},
	{"BucketName", KindS3Bucket},
}

// cloudWatchAlarm normalises a "CloudWatch Alarm State Change" event. Its type is the
// alarm name; the state is in Details and decides the severity.
func cloudWatchAlarm(e *Event, d map[string]any) error {
	name := str(d, "alarmName")
	state := obj(d, "state")
	if name == "" || str(state, "value") == "" {
		return errors.New(`CloudWatch alarm event has no "alarmName" or "state.value"`)
	}
	e.Source = SourceCloudWatch
	e.Type = name
	e.Title = name + " is " + str(state, "value")
	e.Description = str(state, "reason")
	e.Severity = alarmSeverity[str(state, "value")]
	e.UpdatedAt = timePtr(str(state, "timestamp"))
	b := newBuilder(e)
	b.detail("state", str(state, "value"))
	b.detail("previous_state", str(obj(d, "previousState"), "value"))
	b.detail("alarm_description", str(obj(d, "configuration"), "description"))
	if rs := arr(e.Envelope, "resources"); len(rs) > 0 {
		arn, _ := rs[0].(string)
		b.detail("alarm_arn", arn)
	}
	for _, m := range objects(arr(obj(d, "configuration"), "metrics")) {
		dims := dig(m, "metricStat", "metric", "dimensions")
		for _, dim := range alarmDimensions {
			if v := str(dims, dim.name); v != "" {
				b.add(Resource{Kind: dim.kind, ID: v})
			}
		}
	}
	return nil
}
