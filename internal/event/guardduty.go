package event

import (
	"errors"
)

// guardDuty normalises a GuardDuty finding (the detail of a "GuardDuty Finding" event,
// in the shape of the GetFindings API: camelCase fields).
func guardDuty(e *Event, f map[string]any) error {
	if str(f, "type") == "" {
		return errors.New(`GuardDuty finding has no "type"; a finding needs id, type, accountId, region, resource and service`)
	}
	e.Source = SourceGuardDuty
	e.Type = str(f, "type")
	e.Title = str(f, "title")
	e.Description = str(f, "description")
	e.FindingID = str(f, "id")
	e.UpdatedAt = timePtr(str(f, "updatedAt"))
	if s, ok := number(f["severity"]); ok {
		e.Severity = clampSeverity(s)
	}
	if a := str(f, "accountId"); a != "" {
		e.Account = a
	}
	if r := str(f, "region"); r != "" {
		e.Region = r
	}
	b := newBuilder(e)
	res := obj(f, "resource")
	svc := obj(f, "service")
	b.detail("finding_arn", str(f, "arn"))
	b.detail("resource_type", str(res, "resourceType"))
	b.detail("resource_role", str(svc, "resourceRole"))
	b.detail("action_type", str(obj(svc, "action"), "actionType"))

	gdInstance(b, obj(res, "instanceDetails"))
	for _, s := range objects(arr(res, "s3BucketDetails")) {
		name := str(s, "name")
		if name == "" {
			name = idFromARN(KindS3Bucket, str(s, "arn"))
		}
		r := b.add(Resource{Kind: KindS3Bucket, ID: name, ARN: str(s, "arn"), Tags: tagList(s["tags"])})
		setDetail(r, "bucket_type", str(s, "type"))
		setDetail(r, "effective_permission", str(obj(s, "publicAccess"), "effectivePermission"))
	}
	if k := obj(res, "eksClusterDetails"); k != nil {
		name := str(k, "name")
		if name == "" {
			name = idFromARN(KindEKSCluster, str(k, "arn"))
		}
		r := b.add(Resource{Kind: KindEKSCluster, ID: name, ARN: str(k, "arn"), Tags: tagList(k["tags"])})
		setDetail(r, "vpc_id", str(k, "vpcId"))
		kd := obj(res, "kubernetesDetails")
		user := obj(kd, "kubernetesUserDetails")
		setDetail(r, "kubernetes_user", str(user, "username"))
		work := obj(kd, "kubernetesWorkloadDetails")
		setDetail(r, "kubernetes_workload", str(work, "name"))
		setDetail(r, "kubernetes_namespace", str(work, "namespace"))
		setDetail(r, "kubernetes_workload_type", str(work, "type"))
	}
	if l := obj(res, "lambdaDetails"); l != nil {
		name := str(l, "functionName")
		if name == "" {
			name = idFromARN(KindLambdaFunction, str(l, "functionArn"))
		}
		r := b.add(Resource{Kind: KindLambdaFunction, ID: name, ARN: str(l, "functionArn"), Tags: tagList(l["tags"])})
		setDetail(r, "function_version", str(l, "functionVersion"))
		setDetail(r, "role", str(l, "role"))
		vpc := obj(l, "vpcConfig")
		setDetail(r, "vpc_id", str(vpc, "vpcId"))
		setDetail(r, "security_groups", groupIDs(arr(vpc, "securityGroups")))
	}
	if d := obj(res, "rdsDbInstanceDetails"); d != nil {
		name := str(d, "dbInstanceIdentifier")
		if name == "" {
			name = idFromARN(KindRDSInstance, str(d, "dbInstanceArn"))
		}
		r := b.add(Resource{Kind: KindRDSInstance, ID: name, ARN: str(d, "dbInstanceArn"), Tags: tagList(d["tags"])})
		setDetail(r, "engine", str(d, "engine"))
		setDetail(r, "db_cluster", str(d, "dbClusterIdentifier"))
		if u := obj(res, "rdsDbUserDetails"); u != nil {
			setDetail(r, "db_user", str(u, "user"))
			setDetail(r, "database", str(u, "database"))
			setDetail(r, "application", str(u, "application"))
			setDetail(r, "auth_method", str(u, "authMethod"))
		}
	}
	// The principal comes after what it acted on, which is what the finding is about.
	gdAccessKey(b, obj(res, "accessKeyDetails"))
	if u := obj(res, "rdsDbUserDetails"); u != nil && e.Actor == nil && str(u, "user") != "" {
		// The database user is the principal behind an RDS login finding.
		e.Actor = &Actor{UserName: str(u, "user"), Type: "RDSDBUser", Account: e.Account}
	}
	if c := obj(res, "ecsClusterDetails"); c != nil {
		// ECS is no resource kind Firebreak acts on; keep what identifies it for conditions.
		b.detail("ecs_cluster", str(c, "name"))
		b.detail("ecs_cluster_arn", str(c, "arn"))
		b.detail("ecs_task_arn", str(obj(c, "taskDetails"), "arn"))
	}
	if c := obj(res, "containerDetails"); c != nil {
		b.detail("container_id", str(c, "id"))
		b.detail("container_image", str(c, "image"))
	}
	gdAction(b, obj(svc, "action"))
	return nil
}

func gdInstance(b *builder, d map[string]any) {
	id := str(d, "instanceId")
	if id == "" {
		return
	}
	r := Resource{Kind: KindInstance, ID: id, Tags: tagList(d["tags"])}
	if az := str(d, "availabilityZone"); len(az) > 1 && b.ev.Region == "" {
		r.Region = az[:len(az)-1]
	}
	var enis, private, public, groups []string
	vpc := ""
	for _, ni := range objects(arr(d, "networkInterfaces")) {
		enis = appendUnique(enis, str(ni, "networkInterfaceId"))
		private = appendUnique(private, str(ni, "privateIpAddress"))
		for _, p := range objects(arr(ni, "privateIpAddresses")) {
			private = appendUnique(private, str(p, "privateIpAddress"))
		}
		public = appendUnique(public, str(ni, "publicIp"))
		for _, g := range groupIDs(arr(ni, "securityGroups")) {
			groups = appendUnique(groups, g)
		}
		if vpc == "" {
			vpc = str(ni, "vpcId")
		}
	}
	p := b.add(r)
	setDetail(p, "network_interfaces", enis)
	setDetail(p, "private_ips", private)
	setDetail(p, "public_ips", public)
	setDetail(p, "security_groups", groups)
	setDetail(p, "vpc_id", vpc)
	setDetail(p, "instance_type", str(d, "instanceType"))
	setDetail(p, "instance_state", str(d, "instanceState"))
	setDetail(p, "image_id", str(d, "imageId"))
	prof := obj(d, "iamInstanceProfile")
	setDetail(p, "instance_profile_arn", str(prof, "arn"))
	setDetail(p, "instance_profile_id", str(prof, "id"))
}

func groupIDs(list []any) []string {
	var ids []string
	for _, g := range objects(list) {
		ids = appendUnique(ids, str(g, "groupId"))
	}
	return ids
}

// gdAccessKey makes the principal of an IAM finding both the Actor and resources: the
// user or role (an assumed role's userName is the role name) and the access key.
func gdAccessKey(b *builder, k map[string]any) {
	if k == nil {
		return
	}
	e := b.ev
	user, kind := str(k, "userName"), str(k, "userType")
	e.Actor = &Actor{
		Type:        kind,
		PrincipalID: str(k, "principalId"),
		Account:     e.Account,
		AccessKeyID: str(k, "accessKeyId"),
		UserName:    user,
	}
	switch kind {
	case "IAMUser":
		setDetail(b.add(Resource{Kind: KindIAMUser, ID: user}), "principal_id", str(k, "principalId"))
	case "AssumedRole", "Role":
		setDetail(b.add(Resource{Kind: KindIAMRole, ID: user}), "principal_id", str(k, "principalId"))
	case "Root":
		b.add(Resource{Kind: KindAccount, ID: e.Account})
	}
	if id := str(k, "accessKeyId"); id != "" {
		r := b.add(Resource{Kind: KindAccessKey, ID: id})
		setDetail(r, "user_name", user)
		setDetail(r, "user_type", kind)
	}
}

// gdAction reads what GuardDuty saw: remote addresses, ports, domains, user agents.
func gdAction(b *builder, a map[string]any) {
	if a == nil {
		return
	}
	if nc := obj(a, "networkConnectionAction"); nc != nil {
		n := b.net()
		n.Direction = str(nc, "connectionDirection")
		n.Protocol = str(nc, "protocol")
		remoteIPDetails(b, obj(nc, "remoteIpDetails"))
		local := obj(nc, "localIpDetails")
		b.localIP(str(local, "ipAddressV4"))
		b.localIP(str(local, "ipAddressV6"))
		// The port that matters is ours for inbound traffic and theirs for outbound.
		switch n.Direction {
		case "INBOUND":
			b.port(obj(nc, "localPortDetails")["port"])
		case "OUTBOUND":
			b.port(obj(nc, "remotePortDetails")["port"])
		default:
			b.port(obj(nc, "localPortDetails")["port"])
			b.port(obj(nc, "remotePortDetails")["port"])
		}
	}
	if api := obj(a, "awsApiCallAction"); api != nil {
		remoteIPDetails(b, obj(api, "remoteIpDetails"))
		b.userAgent(str(api, "userAgent"))
		b.domain(str(obj(api, "domainDetails"), "domain"))
		b.detail("api", str(api, "api"))
		b.detail("api_service", str(api, "serviceName"))
	}
	if pp := obj(a, "portProbeAction"); pp != nil {
		n := b.net()
		n.Direction = "INBOUND"
		for _, d := range objects(arr(pp, "portProbeDetails")) {
			remoteIPDetails(b, obj(d, "remoteIpDetails"))
			b.localIP(str(obj(d, "localIpDetails"), "ipAddressV4"))
			b.port(obj(d, "localPortDetails")["port"])
		}
	}
	if dns := obj(a, "dnsRequestAction"); dns != nil {
		b.domain(str(dns, "domain"))
		if p := str(dns, "protocol"); p != "" {
			b.net().Protocol = p
		}
	}
	if k := obj(a, "kubernetesApiCallAction"); k != nil {
		remoteIPDetails(b, obj(k, "remoteIpDetails"))
		for _, ip := range arr(k, "sourceIPs") {
			if s, ok := ip.(string); ok {
				b.remoteIP(s)
			}
		}
		b.userAgent(str(k, "userAgent"))
		b.detail("kubernetes_verb", str(k, "verb"))
		b.detail("kubernetes_request_uri", str(k, "requestUri"))
	}
	if rds := obj(a, "rdsLoginAttemptAction"); rds != nil {
		remoteIPDetails(b, obj(rds, "remoteIpDetails"))
	}
}

func remoteIPDetails(b *builder, d map[string]any) {
	b.remoteIP(str(d, "ipAddressV4"))
	b.remoteIP(str(d, "ipAddressV6"))
}
