package event

import (
	"errors"
	"strings"
)

// severityLabels maps ASFF Severity.Label to the GuardDuty scale, for findings that give
// no Severity.Normalized (the label is the required field since ASFF 2020).
var severityLabels = map[string]float64{
	"CRITICAL":      9,
	"HIGH":          7,
	"MEDIUM":        5,
	"LOW":           2,
	"INFORMATIONAL": 0,
}

// asffKinds maps ASFF Resources[].Type to a resource kind, and names the field of
// Details.<Type> that holds the resource's id when the resource Id is no ARN.
var asffKinds = map[string]struct {
	kind    Kind
	idField string
}{
	"AwsEc2Instance":      {KindInstance, ""},
	"AwsIamAccessKey":     {KindAccessKey, "AccessKeyId"},
	"AwsIamUser":          {KindIAMUser, "UserName"},
	"AwsIamRole":          {KindIAMRole, "RoleName"},
	"AwsS3Bucket":         {KindS3Bucket, ""},
	"AwsEc2SecurityGroup": {KindSecurityGroup, "GroupId"},
	"AwsLambdaFunction":   {KindLambdaFunction, "FunctionName"},
	"AwsEksCluster":       {KindEKSCluster, "Name"},
	"AwsRdsDbInstance":    {KindRDSInstance, "DBInstanceIdentifier"},
	"AwsCloudTrailTrail":  {KindTrail, "Name"},
	"AwsAccount":          {KindAccount, ""},
}

// securityHubFinding normalises one ASFF finding.
func securityHubFinding(e *Event, f map[string]any) error {
	id := str(f, "Id")
	if id == "" {
		return errors.New(`the Security Hub finding has no "Id"; an ASFF finding needs SchemaVersion, Id, ProductArn, GeneratorId, AwsAccountId, Types, CreatedAt, UpdatedAt, Severity, Title, Description and Resources`)
	}
	e.Source = SourceSecurityHub
	e.ID = id
	e.FindingID = id
	if types := arr(f, "Types"); len(types) > 0 {
		e.Type, _ = types[0].(string)
	}
	e.Title = str(f, "Title")
	e.Description = str(f, "Description")
	e.UpdatedAt = timePtr(str(f, "UpdatedAt"))
	if a := str(f, "AwsAccountId"); a != "" {
		e.Account = a
	}
	if r := str(f, "Region"); r != "" {
		e.Region = r
	}
	sev := obj(f, "Severity")
	if s, ok := number(sev["Normalized"]); ok {
		e.Severity = clampSeverity(s / 10)
	} else if s, ok := severityLabels[strings.ToUpper(str(sev, "Label"))]; ok {
		e.Severity = s
	}
	b := newBuilder(e)
	b.detail("product_arn", str(f, "ProductArn"))
	b.detail("product_name", str(f, "ProductName"))
	b.detail("generator_id", str(f, "GeneratorId"))
	b.detail("severity_label", str(sev, "Label"))
	b.detail("compliance_status", str(obj(f, "Compliance"), "Status"))
	b.detail("workflow_status", str(obj(f, "Workflow"), "Status"))
	b.detail("record_state", str(f, "RecordState"))
	var types []string
	for _, t := range arr(f, "Types") {
		if s, ok := t.(string); ok {
			types = appendUnique(types, s)
		}
	}
	if len(types) > 1 {
		b.detail("types", types)
	}
	for _, r := range objects(arr(f, "Resources")) {
		asffResource(b, r)
	}
	asffNetwork(b, f)
	return nil
}

func asffResource(b *builder, r map[string]any) {
	typ, rid := str(r, "Type"), str(r, "Id")
	k, ok := asffKinds[typ]
	if !ok {
		return
	}
	details := obj(obj(r, "Details"), typ)
	res := Resource{Kind: k.kind, Region: str(r, "Region"), Tags: tagMap(obj(r, "Tags"))}
	if a, ok := parseARN(rid); ok {
		res.ARN = rid
		res.Account = a.account
		if res.Region == "" {
			res.Region = a.region
		}
	}
	switch {
	case k.idField != "" && str(details, k.idField) != "":
		res.ID = str(details, k.idField)
	case k.kind == KindAccount:
		res.ID = lastField(rid)
		if res.Account == "" {
			res.Account = res.ID
		}
	case res.ARN != "":
		res.ID = idFromARN(k.kind, rid)
		if res.ID == rid {
			res.ID = lastField(rid)
		}
	default:
		res.ID = lastField(rid)
	}
	p := b.add(res)
	switch typ {
	case "AwsEc2Instance":
		setDetail(p, "instance_type", str(details, "Type"))
		setDetail(p, "image_id", str(details, "ImageId"))
		setDetail(p, "vpc_id", str(details, "VpcId"))
		setDetail(p, "instance_profile_arn", str(details, "IamInstanceProfileArn"))
		var ips []string
		for _, ip := range arr(details, "IpV4Addresses") {
			s, _ := ip.(string)
			ips = appendUnique(ips, s)
		}
		setDetail(p, "ips", ips)
	case "AwsIamAccessKey":
		setDetail(p, "user_name", str(details, "PrincipalName"))
		setDetail(p, "user_type", str(details, "PrincipalType"))
		setDetail(p, "status", str(details, "Status"))
		if b.ev.Actor == nil {
			b.ev.Actor = &Actor{
				Type:        str(details, "PrincipalType"),
				PrincipalID: str(details, "PrincipalId"),
				Account:     str(details, "AccountId"),
				AccessKeyID: p.ID,
				UserName:    str(details, "PrincipalName"),
			}
		}
	case "AwsEc2SecurityGroup":
		setDetail(p, "group_name", str(details, "GroupName"))
		setDetail(p, "vpc_id", str(details, "VpcId"))
	}
}

// lastField is what follows the last ':' or '/' of an identifier such as
// "AWS::::Account:111122223333" or "AWS::IAM::AccessKey:AKIA...".
func lastField(s string) string {
	return s[strings.LastIndexAny(s, ":/")+1:]
}

// asffNetwork reads the finding's Network and Action sections.
func asffNetwork(b *builder, f map[string]any) {
	if nw := obj(f, "Network"); nw != nil {
		n := b.net()
		n.Protocol = str(nw, "Protocol")
		switch str(nw, "Direction") {
		case "IN":
			n.Direction = "INBOUND"
			b.remoteIP(str(nw, "SourceIpV4"))
			b.remoteIP(str(nw, "SourceIpV6"))
			b.localIP(str(nw, "DestinationIpV4"))
		case "OUT":
			n.Direction = "OUTBOUND"
			b.remoteIP(str(nw, "DestinationIpV4"))
			b.remoteIP(str(nw, "DestinationIpV6"))
			b.localIP(str(nw, "SourceIpV4"))
		}
		b.port(nw["DestinationPort"])
		b.domain(str(nw, "DestinationDomain"))
	}
	a := obj(f, "Action")
	if a == nil {
		return
	}
	if nc := obj(a, "NetworkConnectionAction"); nc != nil {
		n := b.net()
		if d := str(nc, "ConnectionDirection"); d != "" {
			n.Direction = d
		}
		if p := str(nc, "Protocol"); p != "" {
			n.Protocol = p
		}
		b.remoteIP(str(obj(nc, "RemoteIpDetails"), "IpAddressV4"))
		if n.Direction == "OUTBOUND" {
			b.port(obj(nc, "RemotePortDetails")["Port"])
		} else {
			b.port(obj(nc, "LocalPortDetails")["Port"])
		}
	}
	if api := obj(a, "AwsApiCallAction"); api != nil {
		b.remoteIP(str(obj(api, "RemoteIpDetails"), "IpAddressV4"))
		b.domain(str(obj(api, "DomainDetails"), "Domain"))
	}
	if pp := obj(a, "PortProbeAction"); pp != nil {
		b.net().Direction = "INBOUND"
		for _, d := range objects(arr(pp, "PortProbeDetails")) {
			b.remoteIP(str(obj(d, "RemoteIpDetails"), "IpAddressV4"))
			b.port(obj(d, "LocalPortDetails")["Port"])
		}
	}
	if dns := obj(a, "DnsRequestAction"); dns != nil {
		b.domain(str(dns, "Domain"))
	}
}
