use super::classify::{FLAG_EVENTS_TSV, Patterns, USER_AGENTS_TSV, word_match};
use super::geoip::MMDB_MARKER;
use super::*;
use backtrail_normalize::parse_file;
use serde_json::{Value, json};

/// A record: defaults overridden by `fields` (top level; `userIdentity` replaced whole).
fn rec(id: &str, second: u32, fields: Value) -> Value {
    let mut base = json!({
        "eventVersion": "1.09",
        "eventTime": format!("2024-05-01T10:{:02}:{:02}Z", second / 60, second % 60),
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice",
                         "accountId": "111111111111", "accessKeyId": "AKIAALICE"},
        "eventID": id,
        "readOnly": true,
        "recipientAccountId": "111111111111"
    });
    for (k, v) in fields.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn parse(records: Vec<Value>) -> Vec<Event> {
    let text = serde_json::to_string(&json!({ "Records": records })).unwrap();
    let pf = parse_file(text.as_bytes());
    assert!(pf.rejects.is_empty(), "{:?}", pf.rejects);
    pf.events
}

fn flags(o: &NetworkSources, kind: FlagKind) -> Vec<&Flag> {
    o.flags.iter().filter(|f| f.kind == kind).collect()
}

fn role(session: &str, key: &str) -> Value {
    json!({"type": "AssumedRole",
               "arn": format!("arn:aws:sts::111111111111:assumed-role/app/{session}"),
               "accountId": "111111111111", "accessKeyId": key,
               "sessionContext": {"sessionIssuer": {"type": "Role",
                   "arn": "arn:aws:iam::111111111111:role/app"},
                   "attributes": {"creationDate": "2024-05-01T09:00:00Z", "mfaAuthenticated": "false"}}})
}

#[test]
fn addresses_are_classified() {
    let c = |s| classify_ip(s);
    assert_eq!(c("10.1.2.3"), (IpClass::Private, Some("rfc1918")));
    assert_eq!(c("172.31.0.1"), (IpClass::Private, Some("rfc1918")));
    assert_eq!(c("172.32.0.1"), (IpClass::Public, None));
    assert_eq!(c("192.168.10.20"), (IpClass::Private, Some("rfc1918")));
    assert_eq!(c("100.64.0.1"), (IpClass::Private, Some("cgnat")));
    assert_eq!(c("127.0.0.1"), (IpClass::Private, Some("loopback")));
    assert_eq!(c("169.254.169.254"), (IpClass::Private, Some("link_local")));
    assert_eq!(c("0.0.0.0"), (IpClass::Reserved, Some("unspecified")));
    assert_eq!(c("52.45.102.28"), (IpClass::Public, None));
    assert_eq!(c("fd00::1"), (IpClass::Private, Some("unique_local")));
    assert_eq!(c("fe80::1"), (IpClass::Private, Some("link_local")));
    assert_eq!(c("::1"), (IpClass::Private, Some("loopback")));
    assert_eq!(c("::ffff:10.0.0.1"), (IpClass::Private, Some("rfc1918")));
    assert_eq!(c("2600:1f18::1"), (IpClass::Public, None));
    assert_eq!(c("AWS Internal"), (IpClass::AwsInternal, None));
    assert_eq!(c("ec2.amazonaws.com"), (IpClass::AwsService, None));
    assert_eq!(c("example.org"), (IpClass::Unknown, None));
}

#[test]
fn user_agents_are_classified() {
    let k = |s: &str| {
        let c = classify_user_agent(s);
        (c.kind, c.name.unwrap_or_default())
    };
    assert_eq!(
        k("stratus-red-team_39f95f43-cd2f-4beb-b69e-be60b6fe1f57"),
        (UaKind::AttackTool, "Stratus Red Team".into())
    );
    assert_eq!(
        k("Boto3/1.26.165 Python/3.11.2 Linux/6.1.0-kali7-amd64 Botocore/1.29.165"),
        (UaKind::AttackTool, "Kali Linux build".into())
    );
    assert_eq!(k("Pacu/1.5 boto3/1.26").0, UaKind::AttackTool);
    assert_eq!(k("python-requests/2.28.0 alkaline/1").0, UaKind::HttpClient);
    assert_eq!(
        k("[aws-cli/2.17.32 md/awscrt#0.21.2 ua/2.0]").0,
        UaKind::AwsCli
    );
    assert_eq!(
        k("Boto3/1.26.165 Python/3.10.6 Linux/5.19.0-46-generic").0,
        UaKind::Sdk
    );
    assert_eq!(
        k("APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io)").0,
        UaKind::Terraform
    );
    assert_eq!(k("AWS Internal").0, UaKind::Console);
    assert_eq!(
        k("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]").0,
        UaKind::Console
    );
    assert_eq!(
        k("Mozilla/5.0 (X11; Ubuntu; Linux x86_64)").0,
        UaKind::Browser
    );
    assert_eq!(k("curl/8.4.0").0, UaKind::HttpClient);
    assert_eq!(k("cloudformation.amazonaws.com").0, UaKind::Cloudformation);
    assert_eq!(k("secretsmanager.amazonaws.com").0, UaKind::AwsService);
    assert_eq!(k("my-own-tool/1.0").0, UaKind::Other);
}

#[test]
fn word_match_needs_letter_boundaries() {
    assert!(word_match("linux/6.1.0-kali7-amd64", "kali"));
    assert!(word_match("kali", "kali"));
    assert!(!word_match("alkaline", "kali"));
    assert!(!word_match("kalimba", "kali"));
}

#[test]
fn vpc_endpoints_and_caller_chosen_addresses() {
    let evs = parse(vec![
        rec(
            "own",
            1,
            json!({"sourceIPAddress": "10.0.0.5", "vpcEndpointId": "vpce-ours",
                                "vpcEndpointAccountId": "111111111111"}),
        ),
        rec(
            "foreign1",
            2,
            json!({"sourceIPAddress": "10.9.9.9", "vpcEndpointId": "vpce-theirs",
                                     "vpcEndpointAccountId": "999999999999"}),
        ),
        rec(
            "foreign2",
            3,
            json!({"sourceIPAddress": "10.9.9.9", "vpcEndpointId": "vpce-theirs",
                                     "vpcEndpointAccountId": "999999999999"}),
        ),
        rec(
            "known",
            4,
            json!({"sourceIPAddress": "10.7.7.7", "vpcEndpointId": "vpce-sister",
                                  "vpcEndpointAccountId": "222222222222"}),
        ),
    ]);
    let known = vec!["111111111111".to_string(), "222222222222".to_string()];
    let o = analyze(&evs, &known, None);
    let vpce = flags(&o, FlagKind::VpcEndpoint);
    assert_eq!(vpce.len(), 3);
    assert!(vpce.iter().any(|f| {
        f.detail
            .starts_with("vpce-theirs (owner account 999999999999)")
    }));
    let chosen = flags(&o, FlagKind::CallerChosenSourceIp);
    assert_eq!(chosen.len(), 1, "only the endpoint of an unknown account");
    assert_eq!(chosen[0].evidence_event_ids, vec!["foreign1", "foreign2"]);
    assert_eq!(chosen[0].count, 2);
    assert!(chosen[0].detail.contains("10.9.9.9"));
    let private = flags(&o, FlagKind::PrivateSourceIp);
    assert_eq!(private[0].count, 4);
    assert!(
        private[0]
            .detail
            .contains("10.9.9.9 (rfc1918, 2 calls, 2 through a VPC endpoint)")
    );
    let ip = o
        .source_ips
        .iter()
        .find(|s| s.source_ip == "10.9.9.9")
        .unwrap();
    assert_eq!(ip.vpc_endpoints, vec!["vpce-theirs"]);
    assert_eq!(ip.count, 2);
}

#[test]
fn one_session_from_several_networks() {
    let evs = parse(vec![
        rec(
            "a1",
            1,
            json!({"userIdentity": role("s1", "ASIAONE"), "sourceIPAddress": "203.0.114.1"}),
        ),
        rec(
            "a2",
            2,
            json!({"userIdentity": role("s1", "ASIAONE"), "sourceIPAddress": "203.0.114.99"}),
        ),
        rec(
            "a3",
            3,
            json!({"userIdentity": role("s1", "ASIAONE"), "sourceIPAddress": "45.1.2.3"}),
        ),
        // Same /24 only: not flagged.
        rec(
            "b1",
            4,
            json!({"userIdentity": role("s2", "ASIATWO"), "sourceIPAddress": "203.0.114.1"}),
        ),
        rec(
            "b2",
            5,
            json!({"userIdentity": role("s2", "ASIATWO"), "sourceIPAddress": "203.0.114.2"}),
        ),
        // Public and private.
        rec(
            "c1",
            6,
            json!({"userIdentity": role("s3", "ASIATHREE"), "sourceIPAddress": "203.0.114.1"}),
        ),
        rec(
            "c2",
            7,
            json!({"userIdentity": role("s3", "ASIATHREE"), "sourceIPAddress": "10.1.1.1"}),
        ),
        // AWS acting for the session does not count as a network.
        rec(
            "d1",
            8,
            json!({"userIdentity": role("s4", "ASIAFOUR"), "sourceIPAddress": "203.0.114.1"}),
        ),
        rec(
            "d2",
            9,
            json!({"userIdentity": role("s4", "ASIAFOUR"), "sourceIPAddress": "AWS Internal"}),
        ),
    ]);
    let o = analyze(&evs, &[], None);
    let f = flags(&o, FlagKind::MultipleNetworks);
    assert_eq!(f.len(), 2, "{f:#?}");
    let one = f.iter().find(|f| f.detail.contains("ASIAONE")).unwrap();
    assert!(one.detail.contains("2 public networks"));
    assert!(one.detail.contains("203.0.114.0/24 (2 calls)"));
    assert_eq!(one.evidence_event_ids, vec!["a1", "a3"]);
    assert_eq!(one.count, 3);
    let three = f.iter().find(|f| f.detail.contains("ASIATHREE")).unwrap();
    assert!(three.detail.contains("both public and private"));
    assert_eq!(
        flags(&o, FlagKind::AwsInternalOrServiceSource)[0].evidence_event_ids,
        vec!["d2"]
    );
}

#[test]
fn instance_credentials_used_elsewhere() {
    let inst = "i-0123456789abcdef0";
    let evs = parse(vec![
        rec(
            "h1",
            1,
            json!({"userIdentity": role(inst, "ASIAINST"), "sourceIPAddress": "3.225.16.109",
                               "userAgent": "aws-sdk-go/1.41.4 (go1.18.3; linux; amd64) amazon-ssm-agent/3.2"}),
        ),
        rec(
            "x1",
            2,
            json!({"userIdentity": role(inst, "ASIAINST"), "sourceIPAddress": "45.9.9.9",
                               "userAgent": "aws-cli/2.15.0"}),
        ),
        rec(
            "x2",
            3,
            json!({"userIdentity": role(inst, "ASIAINST"), "sourceIPAddress": "45.9.9.9",
                               "userAgent": "aws-cli/2.15.0"}),
        ),
        rec(
            "h2",
            4,
            json!({"userIdentity": role(inst, "ASIAINST"), "sourceIPAddress": "3.225.16.109",
                               "userAgent": "aws-sdk-go/1.41.4 amazon-ssm-agent/3.2"}),
        ),
        // Not an instance id: no flag.
        rec(
            "n1",
            5,
            json!({"userIdentity": role("i-xyz", "ASIAX"), "sourceIPAddress": "3.3.3.3"}),
        ),
        rec(
            "n2",
            6,
            json!({"userIdentity": role("i-xyz", "ASIAX"), "sourceIPAddress": "4.4.4.4"}),
        ),
    ]);
    let o = analyze(&evs, &[], None);
    let f = flags(&o, FlagKind::InstanceCredentialsOutside);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].evidence_event_ids, vec!["x1", "x2"]);
    assert_eq!(f[0].count, 2);
    assert!(f[0].detail.contains(inst));
    assert!(f[0].detail.contains("45.9.9.9 (public, 2 calls"));
    assert!(f[0].detail.contains("is 3.225.16.109"));
    assert!(f[0].detail.contains("own agents"));
}

#[test]
fn instance_from_in_scope_of() {
    let mut ident = role("botocore-session-1", "ASIAIN");
    ident["inScopeOf"] = json!({"issuerType": "AWS::EC2::Instance",
            "credentialsIssuedTo": "arn:aws:ec2:us-east-1:111111111111:instance/i-0aaaabbbbccccdddd"});
    let evs = parse(vec![
        rec(
            "f1",
            1,
            json!({"userIdentity": ident.clone(), "sourceIPAddress": "3.3.3.3"}),
        ),
        rec(
            "f2",
            2,
            json!({"userIdentity": ident, "sourceIPAddress": "10.20.30.40"}),
        ),
    ]);
    assert_eq!(
        evs[0].identity.in_scope_of_issuer_type.as_deref(),
        Some("AWS::EC2::Instance")
    );
    let o = analyze(&evs, &[], None);
    let f = flags(&o, FlagKind::InstanceCredentialsOutside);
    assert_eq!(f.len(), 1);
    assert!(f[0].detail.contains("i-0aaaabbbbccccdddd"));
    assert!(f[0].detail.contains("first used from"));
    assert_eq!(f[0].evidence_event_ids, vec!["f2"]);
}

#[test]
fn tampering_persistence_and_bulk_reads() {
    let mut recs = vec![
        rec(
            "t1",
            1,
            json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                               "requestParameters": {"name": "org-trail"}, "readOnly": false}),
        ),
        rec(
            "t2",
            2,
            json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
                               "requestParameters": null, "readOnly": false, "errorCode": "AccessDenied",
                               "errorMessage": "User: arn:aws:iam::111111111111:user/alice is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws:cloudtrail:us-east-1:111111111111:trail/other because no identity-based policy allows the cloudtrail:StopLogging action"}),
        ),
        rec(
            "p1",
            3,
            json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
                               "requestParameters": {"userName": "backdoor"}, "readOnly": false}),
        ),
        rec(
            "p2",
            4,
            json!({"eventSource": "lambda.amazonaws.com", "eventName": "AddPermission20150331v2",
                               "requestParameters": {"functionName": "f", "principal": "*"}, "readOnly": false}),
        ),
    ];
    // 25 secret reads in 4 minutes: bulk. 19 parameter reads: under the threshold.
    for i in 0..25 {
        recs.push(rec(
            &format!("s{i:02}"),
            10 + i * 10,
            json!({
                "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",
                "requestParameters": {"secretId": format!("prod/{}", i % 5)}}),
        ));
    }
    for i in 0..19 {
        recs.push(rec(
            &format!("q{i:02}"),
            10 + i,
            json!({
                "eventSource": "ssm.amazonaws.com", "eventName": "GetParameter",
                "requestParameters": {"name": "/x"}}),
        ));
    }
    let o = analyze(&parse(recs), &[], None);
    let t = flags(&o, FlagKind::LoggingTampering);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].evidence_event_ids, vec!["t1", "t2"]);
    assert!(t[0].detail.contains("2 calls, 1 failed"), "{}", t[0].detail);
    assert!(
        t[0].detail
            .contains("org-trail, arn:aws:cloudtrail:us-east-1:111111111111:trail/other")
    );
    let p = flags(&o, FlagKind::Persistence);
    assert_eq!(p.len(), 2);
    assert!(
        p.iter()
            .any(|f| f.detail.contains("CreateUser") && f.detail.contains("backdoor"))
    );
    assert!(
        p.iter()
            .any(|f| f.detail.contains("AddPermission") && f.evidence_event_ids == ["p2"])
    );
    let b = flags(&o, FlagKind::BulkDataAccess);
    assert_eq!(b.len(), 1, "{b:#?}");
    assert!(b[0].detail.contains("GetSecretValue"));
    assert!(
        b[0].detail
            .contains("25 successful calls, 25 of them within 10 minutes")
    );
    assert!(b[0].detail.contains("5 distinct targets"));
    assert_eq!(b[0].count, 25);
    assert_eq!(b[0].evidence_event_ids.len(), EVIDENCE_IDS);
}

#[test]
fn identity_flags_and_recycled_keys() {
    let console_user = json!({"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice",
            "accountId": "111111111111", "accessKeyId": "ASIACONSOLE",
            "sessionContext": {"attributes": {"creationDate": "2024-05-01T09:59:00Z", "mfaAuthenticated": "true"}}});
    let evs = parse(vec![
        rec(
            "login",
            1,
            json!({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice", "accountId": "111111111111"},
                "responseElements": {"ConsoleLogin": "Success"},
                "additionalEventData": {"MFAUsed": "Yes", "LoginTo": "https://console.aws.amazon.com"}}),
        ),
        rec(
            "con",
            2,
            json!({"userIdentity": console_user, "sessionCredentialFromConsole": "true",
                                "userAgent": "AWS Internal"}),
        ),
        rec(
            "xacct",
            3,
            json!({"userIdentity": {"type": "AssumedRole",
                "arn": "arn:aws:sts::333333333333:assumed-role/ext/s", "accountId": "333333333333",
                "accessKeyId": "ASIAEXT"}}),
        ),
        rec(
            "web",
            4,
            json!({"userIdentity": {"type": "WebIdentityUser", "userName": "sub-1",
                "identityProvider": "token.actions.githubusercontent.com", "principalId": "x"},
                "eventName": "AssumeRoleWithWebIdentity"}),
        ),
        rec(
            "fed",
            5,
            json!({"userIdentity": {"type": "FederatedUser",
                "arn": "arn:aws:sts::111111111111:federated-user/bob", "accountId": "111111111111",
                "accessKeyId": "ASIAFED"}}),
        ),
        rec(
            "r1",
            6,
            json!({"userIdentity": role("one", "ASIARECYCLED")}),
        ),
        rec(
            "r2",
            7,
            json!({"userIdentity": role("two", "ASIARECYCLED")}),
        ),
        rec(
            "r3",
            8,
            json!({"userIdentity": role("two", "ASIARECYCLED")}),
        ),
        rec(
            "tool",
            9,
            json!({"userAgent": "stratus-red-team_0a05817a-84d2-40d7-afde-8311715b1ee6"}),
        ),
    ]);
    let o = analyze(&evs, &["111111111111".to_string()], None);
    let one = |k| {
        let f = flags(&o, k);
        assert_eq!(f.len(), 1, "{k:?}: {f:#?}");
        f[0].clone()
    };
    let c = one(FlagKind::ConsoleSession);
    assert_eq!(c.evidence_event_ids, vec!["login", "con"]);
    assert!(c.detail.contains("1 calls signed with console-minted"));
    assert!(c.detail.contains("ConsoleLogin ×1"));
    assert_eq!(
        one(FlagKind::MfaUsed).evidence_event_ids,
        vec!["login", "con"]
    );
    let x = one(FlagKind::CrossAccount);
    assert_eq!(x.evidence_event_ids, vec!["xacct"]);
    assert!(
        x.detail
            .contains("333333333333 → 111111111111 (1 calls, identity account not in the store)")
    );
    let w = one(FlagKind::WebIdentity);
    assert!(w.detail.contains("token.actions.githubusercontent.com"));
    assert_eq!(one(FlagKind::FederatedUser).evidence_event_ids, vec!["fed"]);
    let r = one(FlagKind::RecycledAccessKey);
    assert_eq!(r.evidence_event_ids, vec!["r1", "r2"]);
    assert_eq!(r.count, 3);
    assert!(r.detail.contains("2 identities"));
    let t = one(FlagKind::AttackToolUserAgent);
    assert_eq!(t.evidence_event_ids, vec!["tool"]);
    assert!(t.detail.starts_with("Stratus Red Team: 1 calls"));
    // Flags come out in kind order.
    let kinds: Vec<FlagKind> = o.flags.iter().map(|f| f.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(kinds, sorted);
}

struct FakeGeo;
impl GeoLookup for FakeGeo {
    fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        (ip.to_string() == "45.1.2.3").then(|| Geo {
            country: Some("NL".into()),
            asn: Some(64500),
            as_org: Some("Example Hosting".into()),
        })
    }
}

#[test]
fn rows_by_address_and_user_agent_with_geo() {
    let evs = parse(vec![
        rec(
            "a",
            1,
            json!({"sourceIPAddress": "45.1.2.3", "awsRegion": "eu-west-1"}),
        ),
        rec(
            "b",
            2,
            json!({"sourceIPAddress": "45.1.2.3", "userAgent": "curl/8.0"}),
        ),
        rec("c", 3, json!({"sourceIPAddress": "10.0.0.1"})),
    ]);
    let o = analyze(&evs, &[], Some(&FakeGeo));
    let top = &o.source_ips[0];
    assert_eq!((top.source_ip.as_str(), top.count), ("45.1.2.3", 2));
    assert_eq!(top.geo.as_ref().unwrap().country.as_deref(), Some("NL"));
    assert_eq!(top.regions, vec!["eu-west-1", "us-east-1"]);
    assert_eq!(top.user_agents.len(), 2);
    assert_eq!(
        o.source_ips[1].geo, None,
        "private addresses are not looked up"
    );
    assert_eq!(o.source_ips[1].range.as_deref(), Some("rfc1918"));
    let ua = &o.user_agents[0];
    assert_eq!(
        (ua.user_agent.as_str(), ua.kind, ua.count),
        ("aws-cli/2.15.0", UaKind::AwsCli, 2)
    );
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!(v["source_ips"][0]["class"], "public");
    assert_eq!(v["source_ips"][0]["first_seen"], "2024-05-01T10:00:01Z");
    let back: NetworkSources = serde_json::from_value(v).unwrap();
    assert_eq!(back, o);
}

#[test]
fn rows_that_tie_come_out_in_address_order() {
    // Same count and same first second: only the address can order them, on every run.
    let ips = [
        "203.0.113.9",
        "10.0.0.7",
        "198.51.100.20",
        "45.1.2.3",
        "10.0.0.1",
    ];
    for _ in 0..8 {
        let evs = parse(
            ips.iter()
                .enumerate()
                .map(|(i, ip)| rec(&format!("e{i}"), 1, json!({ "sourceIPAddress": ip })))
                .collect(),
        );
        let o = analyze(&evs, &[], None);
        let got: Vec<&str> = o.source_ips.iter().map(|r| r.source_ip.as_str()).collect();
        assert_eq!(
            got,
            [
                "10.0.0.1",
                "10.0.0.7",
                "198.51.100.20",
                "203.0.113.9",
                "45.1.2.3"
            ]
        );
    }
}

#[test]
fn bad_network_tables_are_refused() {
    assert!(Patterns::parse("glob\tx\tsdk\tX\n", "").is_err());
    assert!(Patterns::parse("prefix\tx\tnot_a_kind\tX\n", "").is_err());
    assert!(Patterns::parse("", "nope\ts\tn\tnote\n").is_err());
    assert!(Patterns::parse(USER_AGENTS_TSV, FLAG_EVENTS_TSV).is_ok());
}

/// Control byte(s) of a MaxMind DB value of `kind` and `size`.
fn mm_ctrl(kind: u8, size: usize) -> Vec<u8> {
    let (first, ext) = if kind <= 7 {
        (kind << 5, None)
    } else {
        (0, Some(kind - 7))
    };
    let (low, extra): (u8, Vec<u8>) = match size {
        0..29 => (size as u8, vec![]),
        29..285 => (29, vec![(size - 29) as u8]),
        _ => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
    };
    let mut out = vec![first | low];
    out.extend(ext);
    out.extend(extra);
    out
}

fn mm_str(s: &str) -> Vec<u8> {
    let mut out = mm_ctrl(2, s.len());
    out.extend(s.as_bytes());
    out
}

fn mm_uint(kind: u8, v: u32) -> Vec<u8> {
    let bytes: Vec<u8> = v
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = mm_ctrl(kind, bytes.len());
    out.extend(bytes);
    out
}

fn mm_map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = mm_ctrl(7, entries.len());
    for (k, v) in entries {
        out.extend(mm_str(k));
        out.extend(v);
    }
    out
}

/// A complete database: the given networks, each pointing at its data record (encoded
/// with offsets relative to the data section).
fn build_db(
    ip_version: u16,
    record_size: u32,
    nets: &[(IpAddr, usize, usize)],
    data: &[u8],
) -> Vec<u8> {
    #[derive(Clone, Copy)]
    enum Rec {
        Node(u32),
        Empty,
        Data(usize),
    }
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty, Rec::Empty]];
    for (ip, prefix, offset) in nets {
        let bits: Vec<bool> = match (ip, ip_version) {
            (IpAddr::V4(v4), 6) => {
                let mut b = vec![false; 96];
                b.extend((0..32).map(|i| v4.octets()[i / 8] >> (7 - i % 8) & 1 == 1));
                b
            }
            (IpAddr::V4(v4), _) => (0..32)
                .map(|i| v4.octets()[i / 8] >> (7 - i % 8) & 1 == 1)
                .collect(),
            (IpAddr::V6(v6), _) => (0..128)
                .map(|i| v6.octets()[i / 8] >> (7 - i % 8) & 1 == 1)
                .collect(),
        };
        let prefix = if matches!(ip, IpAddr::V4(_)) && ip_version == 6 {
            prefix + 96
        } else {
            *prefix
        };
        let mut node = 0usize;
        for (depth, bit) in bits.iter().take(prefix).enumerate() {
            let side = usize::from(*bit);
            if depth + 1 == prefix {
                nodes[node][side] = Rec::Data(*offset);
            } else {
                node = match nodes[node][side] {
                    Rec::Node(n) => n as usize,
                    // A shorter network already covers this one: push it down a level.
                    inherited => {
                        nodes.push([inherited, inherited]);
                        let n = nodes.len() - 1;
                        nodes[node][side] = Rec::Node(n as u32);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len() as u32;
    let value = |r: Rec| match r {
        Rec::Node(n) => n,
        Rec::Empty => count,
        Rec::Data(off) => count + 16 + off as u32,
    };
    let mut out = Vec::new();
    for [l, r] in nodes {
        let (l, r) = (value(l), value(r));
        match record_size {
            24 => {
                out.extend(&l.to_be_bytes()[1..]);
                out.extend(&r.to_be_bytes()[1..]);
            }
            28 => {
                out.extend(&l.to_be_bytes()[1..]);
                out.push((((l >> 24) & 0x0f) << 4) as u8 | ((r >> 24) & 0x0f) as u8);
                out.extend(&r.to_be_bytes()[1..]);
            }
            _ => {
                out.extend(l.to_be_bytes());
                out.extend(r.to_be_bytes());
            }
        }
    }
    out.extend([0u8; 16]);
    out.extend(data);
    out.extend(MMDB_MARKER);
    out.extend(mm_map(&[
        ("binary_format_major_version", mm_uint(5, 2)),
        ("database_type", mm_str("backtrail-test")),
        ("ip_version", mm_uint(5, u32::from(ip_version))),
        ("node_count", mm_uint(6, count)),
        ("record_size", mm_uint(5, record_size)),
    ]));
    out
}

/// Two records: a City-style one (country map) and an ASN one whose organisation is a
/// pointer to a string stored first.
fn sample_data() -> (Vec<u8>, usize, usize) {
    let mut data = mm_str("Example Hosting B.V.");
    let city = data.len();
    data.extend(mm_map(&[
        (
            "country",
            mm_map(&[
                ("iso_code", mm_str("NL")),
                ("geoname_id", mm_uint(6, 2750405)),
            ]),
        ),
        ("location", mm_map(&[("accuracy_radius", mm_uint(5, 100))])),
    ]));
    let asn = data.len();
    data.extend(mm_map(&[
        ("autonomous_system_number", mm_uint(6, 64500)),
        // Pointer, size 0: two bytes with the offset (0) of the string.
        ("autonomous_system_organization", vec![0b0010_0000, 0]),
    ]));
    (data, city, asn)
}

#[test]
fn maxmind_databases_of_both_ip_versions_and_record_sizes() {
    let (data, city, asn) = sample_data();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    for (version, size) in [(4u16, 24u32), (6, 24), (6, 28), (4, 32)] {
        let mut nets = vec![(ip("45.1.0.0"), 16, city), (ip("45.1.2.0"), 24, asn)];
        if version == 6 {
            nets.push((ip("2a01:4f8::"), 32, city));
        }
        let db = MaxMindDb::from_bytes(build_db(version, size, &nets, &data)).unwrap();
        let g = db.lookup(ip("45.1.9.9")).unwrap();
        assert_eq!(g.country.as_deref(), Some("NL"), "v{version}/{size}");
        assert_eq!(g.asn, None);
        let g = db.lookup(ip("45.1.2.3")).unwrap();
        assert_eq!(g.asn, Some(64500), "v{version}/{size}");
        assert_eq!(g.as_org.as_deref(), Some("Example Hosting B.V."));
        assert_eq!(db.lookup(ip("8.8.8.8")), None);
        assert_eq!(
            db.lookup(ip("::ffff:45.1.9.9")).and_then(|g| g.country),
            Some("NL".into())
        );
        if version == 6 {
            assert!(db.lookup(ip("2a01:4f8:1::1")).is_some());
        }
    }
    // A Country database and an ASN database together: fields merged.
    let both = vec![
        MaxMindDb::from_bytes(build_db(6, 24, &[(ip("45.1.0.0"), 16, city)], &data)).unwrap(),
        MaxMindDb::from_bytes(build_db(4, 24, &[(ip("45.1.0.0"), 16, asn)], &data)).unwrap(),
    ];
    let g = both.lookup(ip("45.1.200.1")).unwrap();
    assert_eq!((g.country.as_deref(), g.asn), (Some("NL"), Some(64500)));
    // And through the analysis.
    let evs = parse(vec![rec("g", 1, json!({"sourceIPAddress": "45.1.2.3"}))]);
    let o = analyze(&evs, &[], Some(&both));
    assert_eq!(o.source_ips[0].geo.as_ref().unwrap().asn, Some(64500));
}

#[test]
fn damaged_maxmind_databases_fail_cleanly() {
    assert!(matches!(
        MaxMindDb::from_bytes(b"hello".to_vec()),
        Err(GeoDbError::Format(_))
    ));
    assert!(MaxMindDb::open(std::path::Path::new("/nonexistent/x.mmdb")).is_err());
    let (data, city, _) = sample_data();
    let ip: IpAddr = "45.1.2.3".parse().unwrap();
    let good = build_db(4, 24, &[(ip, 16, city)], &data);
    // Every truncation and every single-byte corruption: no panic, at worst no answer.
    for cut in 0..good.len() {
        if let Ok(db) = MaxMindDb::from_bytes(good[..cut].to_vec()) {
            let _ = db.lookup(ip);
        }
    }
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0xff;
        if let Ok(db) = MaxMindDb::from_bytes(bad) {
            let _ = db.lookup(ip);
        }
    }
    // A record that points at itself ends at the depth bound.
    let looped = vec![0b0010_0000, 0];
    let db = MaxMindDb::from_bytes(build_db(4, 24, &[(ip, 16, 0)], &looped)).unwrap();
    assert_eq!(db.lookup(ip), None);
}
