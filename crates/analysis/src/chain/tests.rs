use super::*;
use crate::subject::testkit::*;
use backtrail_model::MemoryLookup;
use serde_json::{Value, json};

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";

fn role(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

fn service(svc: &str) -> Value {
    json!({"type": "AWSService", "invokedBy": svc})
}

/// The only session of `key`, traced.
fn chain_of(l: &MemoryLookup, key: &str) -> SessionChain {
    let r = who(l, &Subject::AccessKey(key.into()), None, None).unwrap();
    assert_eq!(r.sessions.len(), 1, "{:#?}", r);
    r.sessions.into_iter().next().unwrap()
}

fn methods(c: &SessionChain) -> Vec<&str> {
    c.chain.iter().map(|h| h.method.as_str()).collect()
}

fn alice() -> Value {
    user(A, "alice", Some("AKIAALICE00000000001"))
}

#[test]
fn role_session_traces_to_its_user_through_a_certain_assume_role() {
    let l = lookup(&[
        assume_role(
            "e1",
            "2024-05-01T10:00:00Z",
            alice(),
            &role(A, "R"),
            "s",
            "ASIAK1",
        ),
        call(
            "c1",
            "2024-05-01T10:05:00Z",
            role_session(A, "R", "s", Some("ASIAK1"), "2024-05-01T10:00:00Z"),
            "ListBuckets",
            "198.51.100.7",
        ),
    ]);
    let c = chain_of(&l, "ASIAK1");
    assert_eq!(methods(&c), ["AssumeRole"]);
    let h = &c.chain[0];
    assert_eq!(h.event_id.as_deref(), Some("e1"));
    assert_eq!(h.confidence, Confidence::Certain);
    assert_eq!(
        h.issued_creation_date.as_deref(),
        Some("2024-05-01T10:00:00Z")
    );
    assert_eq!(
        h.caller.arn.as_deref(),
        Some("arn:aws:iam::111111111111:user/alice")
    );
    assert_eq!(c.origin.kind, OriginKind::IAMUser);
    assert_eq!(c.origin.identifier, "arn:aws:iam::111111111111:user/alice");
    assert_eq!(c.origin.evidence_event_ids, ["e1"]);
    assert!(c.continue_at.is_none());
    // The JSON shape the CLI prints.
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["chain"][0]["confidence"], "certain");
    assert_eq!(v["chain"][0]["caller"]["type"], "IAMUser");
    assert_eq!(v["origin"]["kind"], "IAMUser");
    assert_eq!(v["creation_date"], "2024-05-01T10:00:00Z");
}

#[test]
fn a_recycled_key_id_is_decided_by_arn_and_creation_date() {
    let bob = user(A, "bob", Some("AKIABOB0000000000001"));
    let mut denied = assume_role(
        "e0",
        "2024-05-01T18:00:00Z",
        alice(),
        &role(A, "R1"),
        "a",
        "ASIAK",
    );
    denied["errorCode"] = json!("AccessDenied");
    denied["responseElements"] = Value::Null;
    let l = lookup(&[
        assume_role(
            "e1",
            "2024-05-01T10:00:00Z",
            alice(),
            &role(A, "R1"),
            "a",
            "ASIAK",
        ),
        assume_role(
            "e2",
            "2024-05-01T18:00:01Z",
            alice(),
            &role(A, "R2"),
            "b",
            "ASIAK",
        ),
        assume_role(
            "e3",
            "2024-05-01T18:00:00Z",
            bob,
            &role(A, "R1"),
            "a",
            "ASIAK",
        ),
        denied,
        call(
            "c1",
            "2024-05-01T18:05:00Z",
            role_session(A, "R1", "a", Some("ASIAK"), "2024-05-01T18:00:00Z"),
            "ListBuckets",
            "198.51.100.7",
        ),
    ]);
    let c = chain_of(&l, "ASIAK");
    let h = &c.chain[0];
    assert_eq!(h.event_id.as_deref(), Some("e3"));
    assert_eq!(h.confidence, Confidence::Certain);
    assert!(c.origin.identifier.ends_with("user/bob"));
    let why = |id: &str| {
        h.candidates
            .iter()
            .find(|c| c.event_id == id)
            .map(|c| c.why_rejected_or_open.clone())
            .unwrap_or_default()
    };
    assert!(why("e1").contains("recycled"), "{}", why("e1"));
    assert!(why("e2").contains("assumed-role/R2/b"), "{}", why("e2"));
    assert!(why("e0").contains("AccessDenied"), "{}", why("e0"));
}

#[test]
fn equal_issuers_are_probable_with_one_caller_and_unknown_with_two() {
    let at = "2024-05-01T12:16:14Z";
    let slr = role(A, "aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS");
    let mut rows = Vec::new();
    for (id, key) in [("r1", "ASIARDS1"), ("r2", "ASIARDS2")] {
        let mut e = assume_role(
            id,
            at,
            service("rds.amazonaws.com"),
            &slr,
            "SLRManagement",
            key,
        );
        e["sourceIPAddress"] = json!("rds.amazonaws.com");
        rows.push(e);
    }
    // The service's calls carry no key.
    let mut svc_call = call(
        "c1",
        "2024-05-01T12:16:20Z",
        role_session(A, "AWSServiceRoleForRDS", "SLRManagement", None, at),
        "CreateNetworkInterface",
        "rds.amazonaws.com",
    );
    svc_call["userIdentity"]["invokedBy"] = json!("rds.amazonaws.com");
    rows.push(svc_call);
    let l = lookup(&rows);
    let r = who(&l, &Subject::parse("SLRManagement"), None, None).unwrap();
    let c = &r.sessions[0];
    assert_eq!(c.chain[0].confidence, Confidence::Probable);
    assert!(c.chain[0].reason.contains("share their caller"));
    assert_eq!(c.chain[0].candidates.len(), 1);
    assert_eq!(c.origin.kind, OriginKind::AWSService);
    assert_eq!(c.origin.identifier, "rds.amazonaws.com");
    assert_eq!(c.invoked_by, ["rds.amazonaws.com"]);

    // Two different users in the same second for a keyless session: no choice is made.
    let bob = user(A, "bob", Some("AKIABOB0000000000001"));
    let l = lookup(&[
        assume_role("a1", at, alice(), &role(A, "R"), "s", "ASIAX1"),
        assume_role("a2", at, bob, &role(A, "R"), "s", "ASIAX2"),
        call(
            "c1",
            "2024-05-01T12:17:00Z",
            role_session(A, "R", "s", None, at),
            "Decrypt",
            "kms.amazonaws.com",
        ),
    ]);
    let r = who(
        &l,
        &Subject::parse("arn:aws:sts::111111111111:assumed-role/R/s"),
        None,
        None,
    )
    .unwrap();
    let c = &r.sessions[0];
    assert_eq!(c.chain.len(), 1);
    assert_eq!(c.chain[0].confidence, Confidence::Unknown);
    assert_eq!(c.chain[0].event_id, None);
    assert_eq!(c.chain[0].candidates.len(), 2);
    assert_eq!(c.origin.kind, OriginKind::Unknown);
    assert!(c.notes.iter().any(|n| n.contains("ambiguous")));
}

fn console_call(id: &str, time: &str, identity: Value) -> Value {
    let mut v = call(id, time, identity, "DescribeInstances", "203.0.113.9");
    v["sessionCredentialFromConsole"] = json!("true");
    v
}

#[test]
fn a_console_session_is_issued_by_its_sign_in_not_by_a_key() {
    let login = "2024-05-01T09:00:00Z";
    let l = lookup(&[
        console_login("login", login, user(A, "bob", None)),
        console_call(
            "c1",
            "2024-05-01T09:05:00Z",
            user_console(A, "bob", "ASIACON1", login),
        ),
        console_call(
            "c2",
            "2024-05-01T09:06:00Z",
            user_console(A, "bob", "ASIACON2", login),
        ),
    ]);
    let c = chain_of(&l, "ASIACON2");
    assert_eq!(c.access_key_ids, ["ASIACON2", "ASIACON1"]);
    assert_eq!(methods(&c), ["ConsoleLogin"]);
    let h = &c.chain[0];
    assert_eq!(h.confidence, Confidence::Certain);
    assert_eq!(h.issued_access_key_id, None);
    assert_eq!(h.issued_creation_date.as_deref(), Some(login));
    assert_eq!(c.origin.kind, OriginKind::IAMUser);
    assert_eq!(c.origin.evidence_event_ids, ["login"]);
}

/// alice signs in at 09:00 and switches to Admin at 09:30; the console's AssumeRole pair
/// returns ASIAPAIR, while the switched session signs with ASIASWITCHED.
fn switch_records(with_pair: bool) -> Vec<Value> {
    let login = "2024-05-01T09:00:00Z";
    let switched = "2024-05-01T09:30:00Z";
    let mut switch = call(
        "sw",
        switched,
        role_session(A, "Admin", "alice", None, switched),
        "SwitchRole",
        "203.0.113.9",
    );
    switch["eventSource"] = json!("signin.amazonaws.com");
    switch["eventType"] = json!("AwsConsoleSignIn");
    switch["responseElements"] = json!({"SwitchRole": "Success"});
    switch["additionalEventData"] = json!({"SwitchFrom": "arn:aws:iam::111111111111:user/alice", "RedirectTo": "https://console.aws.amazon.com"});
    let mut rows = vec![
        console_login("login", login, user(A, "alice", None)),
        console_call(
            "c1",
            "2024-05-01T09:10:00Z",
            user_console(A, "alice", "ASIAALICECON", login),
        ),
        switch,
        console_call(
            "c2",
            "2024-05-01T09:31:00Z",
            role_session(A, "Admin", "alice", Some("ASIASWITCHED"), switched),
        ),
    ];
    if with_pair {
        let mut pair = assume_role(
            "pair",
            switched,
            user_console(A, "alice", "ASIAALICECON", login),
            &role(A, "Admin"),
            "alice",
            "ASIAPAIR",
        );
        pair["sourceIPAddress"] = json!("AWS Internal");
        pair["userIdentity"]["invokedBy"] = json!("signin.amazonaws.com");
        rows.push(pair);
    }
    rows
}

#[test]
fn a_switched_session_belongs_to_the_switch_from_user() {
    let l = lookup(&switch_records(true));
    let c = chain_of(&l, "ASIASWITCHED");
    assert_eq!(methods(&c), ["ConsoleLogin", "SwitchRole"]);
    let sw = &c.chain[1];
    assert_eq!(sw.confidence, Confidence::Certain);
    assert_eq!(
        sw.other_event_ids,
        ["pair"],
        "the AssumeRole pair is linked evidence"
    );
    assert!(sw.reason.contains("ASIAPAIR") && sw.reason.contains("not the key"));
    assert!(!c.access_key_ids.contains(&"ASIAPAIR".to_string()));
    assert_eq!(
        c.chain[0].confidence,
        Confidence::Certain,
        "the pair carries the sign-in's creationDate"
    );
    assert!(c.origin.identifier.ends_with("user/alice"));

    // Without the pair, the sign-in is found by time: probable.
    let l = lookup(&switch_records(false));
    let c = chain_of(&l, "ASIASWITCHED");
    assert_eq!(methods(&c), ["ConsoleLogin", "SwitchRole"]);
    assert_eq!(c.chain[0].confidence, Confidence::Probable);
    assert!(c.origin.identifier.ends_with("user/alice"));
}

#[test]
fn renew_role_continues_the_switched_session() {
    let renewed = "2024-05-01T10:30:00Z";
    let mut rows = switch_records(true);
    let mut renew = call(
        "rn",
        renewed,
        role_session(A, "Admin", "alice", None, renewed),
        "RenewRole",
        "203.0.113.9",
    );
    renew["eventSource"] = json!("signin.amazonaws.com");
    renew["responseElements"] = json!({"RenewRole": "Success"});
    rows.push(renew);
    rows.push(console_call(
        "c3",
        "2024-05-01T10:31:00Z",
        role_session(A, "Admin", "alice", Some("ASIARENEWED"), renewed),
    ));
    let l = lookup(&rows);
    let c = chain_of(&l, "ASIARENEWED");
    assert_eq!(methods(&c), ["ConsoleLogin", "SwitchRole", "RenewRole"]);
    assert_eq!(c.chain[2].confidence, Confidence::Certain);
    assert_eq!(c.chain[1].event_id.as_deref(), Some("sw"));
    assert_eq!(c.chain[1].confidence, Confidence::Probable);
    assert!(c.origin.identifier.ends_with("user/alice"));
}

/// alice (account A) assumes Ops in account B: the caller's copy and the owner's copy.
fn cross_account(shared: bool, caller_copy: bool, caller_has_response: bool) -> MemoryLookup {
    let at = "2024-05-01T10:00:00Z";
    let owner_id = json!({"type": "AWSAccount", "principalId": "AIDAALICE", "accountId": A});
    let mut owner = assume_role("owner", at, owner_id, &role(B, "Ops"), "alice", "ASIAOPS");
    owner["requestID"] = json!("req-1");
    let mut rows = vec![call(
        "c1",
        "2024-05-01T10:05:00Z",
        role_session(B, "Ops", "alice", Some("ASIAOPS"), at),
        "ListBuckets",
        "198.51.100.7",
    )];
    if caller_copy {
        let mut mine = assume_role("mine", at, alice(), &role(B, "Ops"), "alice", "ASIAOPS");
        mine["recipientAccountId"] = json!(A);
        mine["requestID"] = json!("req-1");
        if !caller_has_response {
            mine["responseElements"] = Value::Null;
        }
        if shared {
            mine["sharedEventID"] = json!("shared-1");
        }
        rows.push(mine);
    }
    if shared {
        owner["sharedEventID"] = json!("shared-1");
    }
    rows.push(owner);
    lookup(&rows)
}

#[test]
fn cross_account_copies_are_joined() {
    for (shared, response) in [(true, true), (true, false), (false, true), (false, false)] {
        let c = chain_of(&cross_account(shared, true, response), "ASIAOPS");
        let h = &c.chain[0];
        assert_eq!(
            h.event_id.as_deref(),
            Some("mine"),
            "the caller's copy leads ({shared}, {response})"
        );
        assert_eq!(h.other_event_ids, ["owner"]);
        assert!(h.reason.contains("222222222222"));
        assert!(c.origin.identifier.ends_with("user/alice"));
        assert!(c.continue_at.is_none());
    }
}

#[test]
fn a_missing_caller_copy_says_where_to_continue() {
    let c = chain_of(&cross_account(true, false, false), "ASIAOPS");
    assert_eq!(c.chain[0].event_id.as_deref(), Some("owner"));
    assert_eq!(c.origin.kind, OriginKind::AWSAccount);
    assert_eq!(c.origin.identifier, "AIDAALICE");
    let at = c.continue_at.unwrap();
    assert_eq!(at.account.as_deref(), Some(A));
    assert_eq!(at.principal, "AIDAALICE");
    assert_eq!(at.window_start.as_deref(), Some("2024-05-01T09:55:00Z"));
    assert_eq!(at.window_end.as_deref(), Some("2024-05-01T10:05:00Z"));
    assert!(at.why.contains("an IAM user"));
}

#[test]
fn role_chains_recurse_across_accounts() {
    let t1 = "2024-05-01T10:00:00Z";
    let t2 = "2024-05-01T10:10:00Z";
    let l = lookup(&[
        assume_role("h1", t1, alice(), &role(B, "Hop"), "alice", "ASIAHOP"),
        assume_role(
            "h2",
            t2,
            role_session(B, "Hop", "alice", Some("ASIAHOP"), t1),
            &role(C, "Target"),
            "chained",
            "ASIATARGET",
        ),
        call(
            "c1",
            "2024-05-01T10:15:00Z",
            role_session(C, "Target", "chained", Some("ASIATARGET"), t2),
            "GetObject",
            "198.51.100.7",
        ),
    ]);
    let c = chain_of(&l, "ASIATARGET");
    assert_eq!(methods(&c), ["AssumeRole", "AssumeRole"]);
    assert_eq!(c.chain[0].event_id.as_deref(), Some("h1"));
    assert_eq!(c.chain[1].event_id.as_deref(), Some("h2"));
    assert!(c.chain.iter().all(|h| h.confidence == Confidence::Certain));
    assert_eq!(c.chain[1].caller.session_creation_date.as_deref(), Some(t1));
    assert!(c.origin.identifier.ends_with("user/alice"));
}

#[test]
fn a_created_key_leads_back_to_its_creator() {
    let mallory = user(A, "mallory", Some("AKIAMALLORY000000001"));
    let t1 = "2024-05-01T10:00:00Z";
    let mut create = call(
        "ck",
        "2024-05-01T10:02:00Z",
        role_session(A, "Admin", "x", Some("ASIAADMIN"), t1),
        "CreateAccessKey",
        "198.51.100.66",
    );
    create["eventSource"] = json!("iam.amazonaws.com");
    create["requestParameters"] = json!({"userName": "victim"});
    create["responseElements"] = json!({"accessKey": {"accessKeyId": "AKIAVICTIM0000000001", "userName": "victim", "status": "Active"}});
    let l = lookup(&[
        assume_role("ar", t1, mallory, &role(A, "Admin"), "x", "ASIAADMIN"),
        create,
        call(
            "use",
            "2024-05-02T08:00:00Z",
            user(A, "victim", Some("AKIAVICTIM0000000001")),
            "ListUsers",
            "198.51.100.66",
        ),
    ]);
    let c = chain_of(&l, "AKIAVICTIM0000000001");
    assert_eq!(methods(&c), ["AssumeRole", "CreateAccessKey"]);
    assert_eq!(c.chain[1].confidence, Confidence::Certain);
    assert!(c.chain[1].reason.contains("user/victim"));
    assert!(c.origin.identifier.ends_with("user/mallory"));
}

#[test]
fn a_backdoor_password_leads_back_to_whoever_set_it() {
    let bert = user(A, "bert", Some("AKIABERT000000000001"));
    let mut profile = call(
        "lp",
        "2024-05-01T10:00:00Z",
        bert,
        "CreateLoginProfile",
        "192.0.2.20",
    );
    profile["eventSource"] = json!("iam.amazonaws.com");
    profile["requestParameters"] = json!({"userName": "backdoor", "passwordResetRequired": false});
    let login = "2024-05-01T10:05:00Z";
    let l = lookup(&[
        profile,
        console_login("login", login, user(A, "backdoor", None)),
        console_call(
            "c1",
            "2024-05-01T10:06:00Z",
            user_console(A, "backdoor", "ASIABACKDOOR", login),
        ),
    ]);
    let c = chain_of(&l, "ASIABACKDOOR");
    assert_eq!(methods(&c), ["CreateLoginProfile", "ConsoleLogin"]);
    assert_eq!(c.chain[0].confidence, Confidence::Probable);
    assert!(c.origin.identifier.ends_with("user/bert"));
    // The sign-in record itself (no key, no creationDate) says the same.
    let r = who(&l, &Subject::parse("backdoor"), None, None).unwrap();
    assert_eq!(r.sessions.len(), 2);
    for s in &r.sessions {
        assert!(s.origin.identifier.ends_with("user/bert"), "{s:#?}");
        assert_eq!(s.chain.last().unwrap().method, "ConsoleLogin");
    }
}

fn saml(id: &str, at: &str, role_arn: &str, session: &str, key: &str) -> Value {
    let ident = json!({"type": "SAMLUser", "principalId": "idp+ExAmPlE=:jdoe@example.com", "userName": "jdoe@example.com", "identityProvider": "idp+ExAmPlE="});
    let mut v = assume_role(id, at, ident, role_arn, session, key);
    v["eventName"] = json!("AssumeRoleWithSAML");
    v["requestParameters"]["principalArn"] = json!(format!("arn:aws:iam::{A}:saml-provider/Okta"));
    v["responseElements"]["subject"] = json!("jdoe@example.com");
    v["responseElements"]["issuer"] = json!("http://www.okta.com/exk123");
    v
}

#[test]
fn external_identities_are_origins() {
    let at = "2024-05-01T10:00:00Z";
    let mut oidc = assume_role(
        "wi",
        at,
        json!({"type": "WebIdentityUser", "principalId": "token.actions.githubusercontent.com:sts.amazonaws.com:repo:org/app:ref:refs/heads/main", "userName": "repo:org/app:ref:refs/heads/main", "identityProvider": "token.actions.githubusercontent.com"}),
        &role(A, "Deploy"),
        "gha",
        "ASIAWEB",
    );
    oidc["eventName"] = json!("AssumeRoleWithWebIdentity");
    oidc["responseElements"]["provider"] =
        json!("arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com");
    oidc["responseElements"]["subjectFromWebIdentityToken"] =
        json!("repo:org/app:ref:refs/heads/main");
    let sso_role = "AWSReservedSSO_Admin_0123456789abcdef";
    let l = lookup(&[
        saml(
            "sa",
            at,
            &role(A, "Federated"),
            "jdoe@example.com",
            "ASIASAML",
        ),
        call(
            "c1",
            "2024-05-01T10:01:00Z",
            role_session(A, "Federated", "jdoe@example.com", Some("ASIASAML"), at),
            "ListBuckets",
            "198.51.100.7",
        ),
        saml(
            "ic",
            at,
            &format!("arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/{sso_role}"),
            "jdoe",
            "ASIASSO",
        ),
        call(
            "c2",
            "2024-05-01T10:01:00Z",
            role_session(A, sso_role, "jdoe", Some("ASIASSO"), at),
            "ListBuckets",
            "198.51.100.7",
        ),
        oidc,
        call(
            "c3",
            "2024-05-01T10:01:00Z",
            role_session(A, "Deploy", "gha", Some("ASIAWEB"), at),
            "PutObject",
            "198.51.100.7",
        ),
    ]);
    let c = chain_of(&l, "ASIASAML");
    assert_eq!(methods(&c), ["AssumeRoleWithSAML"]);
    assert_eq!(c.origin.kind, OriginKind::SAMLUser);
    assert_eq!(c.origin.identifier, "jdoe@example.com");
    assert_eq!(
        c.origin.provider.as_deref(),
        Some("http://www.okta.com/exk123")
    );
    let c = chain_of(&l, "ASIASSO");
    assert_eq!(c.origin.kind, OriginKind::IdentityCenterUser);
    assert_eq!(c.origin.identifier, "jdoe@example.com");
    let c = chain_of(&l, "ASIAWEB");
    assert_eq!(c.origin.kind, OriginKind::WebIdentityUser);
    assert_eq!(c.origin.identifier, "repo:org/app:ref:refs/heads/main");
    assert!(
        c.origin
            .provider
            .unwrap()
            .ends_with("token.actions.githubusercontent.com")
    );
}

/// dana federates through Identity Center into DeveloperAccess (AssumeRoleWithSAML returns
/// ASIASAMLKEY at 10:00:00), signs in to the console with that key at 10:00:01, works with
/// console keys (same ARN and creationDate, no issuing event) and switches into
/// prod-support in account B at 10:20 (the console's AssumeRole pair is made with a
/// console key).
fn identity_center_console_records() -> Vec<Value> {
    let at = "2024-05-01T10:00:00Z";
    let switched = "2024-05-01T10:20:00Z";
    let sso_role = "AWSReservedSSO_DeveloperAccess_0123456789abcdef";
    let dana = "dana@example.com";
    let sso_arn = format!("arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/{sso_role}");
    let mut fed = saml("saml", at, &sso_arn, dana, "ASIASAMLKEY");
    fed["userIdentity"]["principalId"] = json!(format!("idp+ExAmPlE=:{dana}"));
    fed["userIdentity"]["userName"] = json!(dana);
    fed["responseElements"]["subject"] = json!(dana);
    let dev = |key: &str| role_session(A, sso_role, dana, Some(key), at);
    let mut switch = call(
        "sw",
        switched,
        role_session(B, "prod-support", dana, None, switched),
        "SwitchRole",
        "203.0.113.9",
    );
    switch["eventSource"] = json!("signin.amazonaws.com");
    switch["eventType"] = json!("AwsConsoleSignIn");
    switch["responseElements"] = json!({"SwitchRole": "Success"});
    switch["additionalEventData"] = json!({
        "SwitchFrom": format!("arn:aws:sts::{A}:assumed-role/{sso_role}/{dana}"),
        "RedirectTo": "https://console.aws.amazon.com"
    });
    let mut pair = assume_role(
        "pair",
        switched,
        dev("ASIACON1"),
        &role(B, "prod-support"),
        dana,
        "ASIAPAIR",
    );
    pair["sourceIPAddress"] = json!("AWS Internal");
    pair["userIdentity"]["invokedBy"] = json!("signin.amazonaws.com");
    vec![
        fed,
        console_login("login", "2024-05-01T10:00:01Z", dev("ASIASAMLKEY")),
        console_call("c1", "2024-05-01T10:01:00Z", dev("ASIACON1")),
        console_call("c2", "2024-05-01T10:05:00Z", dev("ASIACON2")),
        switch,
        pair,
        console_call(
            "c3",
            "2024-05-01T10:21:00Z",
            role_session(B, "prod-support", dana, Some("ASIAPROD1"), switched),
        ),
    ]
}

/// The federation and its console sign-in, as one hop.
fn assert_one_sign_in_hop(h: &Hop, login_has_key: bool) {
    assert_eq!(h.method, "AssumeRoleWithSAML");
    assert_eq!(h.event_id.as_deref(), Some("saml"));
    assert_eq!(h.other_event_ids, ["login"]);
    assert_eq!(h.confidence, Confidence::Certain, "{}", h.reason);
    assert_eq!(h.caller.kind.as_deref(), Some("SAMLUser"));
    assert_eq!(
        h.issued_creation_date.as_deref(),
        Some("2024-05-01T10:00:00Z")
    );
    assert!(
        h.reason.contains("one step") && h.reason.contains("login"),
        "{}",
        h.reason
    );
    let how = if login_has_key {
        "signed with the key"
    } else {
        "without a key"
    };
    assert!(h.reason.contains(how), "{}", h.reason);
    assert!(
        h.candidates
            .iter()
            .all(|c| c.event_id != "saml" && c.event_id != "login"),
        "{:#?}",
        h.candidates
    );
}

#[test]
fn a_federated_console_sign_in_is_one_hop_with_or_without_the_key() {
    for with_key in [true, false] {
        let mut rows = identity_center_console_records();
        if !with_key {
            let login = rows.iter_mut().find(|r| r["eventID"] == "login").unwrap();
            login["userIdentity"]
                .as_object_mut()
                .unwrap()
                .remove("accessKeyId");
        }
        let l = lookup(&rows);
        let c = chain_of(&l, "ASIACON2");
        assert_eq!(c.access_key_ids.len(), 2, "{:?}", c.access_key_ids);
        assert_eq!(methods(&c), ["AssumeRoleWithSAML"], "{:#?}", c.chain);
        assert_one_sign_in_hop(&c.chain[0], with_key);
        assert_eq!(c.origin.kind, OriginKind::IdentityCenterUser);
        assert_eq!(c.origin.identifier, "dana@example.com");
        assert_eq!(c.origin.evidence_event_ids, ["saml"]);

        // The switched session goes through the switch and the sign-in.
        let c = chain_of(&l, "ASIAPROD1");
        assert_eq!(methods(&c), ["AssumeRoleWithSAML", "SwitchRole"]);
        assert_one_sign_in_hop(&c.chain[0], with_key);
        let ids: Vec<_> = c.chain.iter().map(|h| h.event_id.as_deref()).collect();
        assert_eq!(ids, [Some("saml"), Some("sw")]);
        assert_eq!(c.chain[1].other_event_ids, ["pair"]);
        assert!(c.chain.iter().all(|h| h.confidence == Confidence::Certain));
        assert_eq!(c.origin.kind, OriginKind::IdentityCenterUser);
        assert_eq!(c.origin.identifier, "dana@example.com");
        assert!(c.continue_at.is_none());
    }
}

#[test]
fn federations_that_disagree_on_role_name_or_time_are_not_the_sign_in() {
    // The console sign-in was logged without a key; other federations of the same person
    // came into another role, under another session name, or a minute later.
    let mut rows = identity_center_console_records();
    let login = rows.iter_mut().find(|r| r["eventID"] == "login").unwrap();
    login["userIdentity"]
        .as_object_mut()
        .unwrap()
        .remove("accessKeyId");
    let sso = |name: &str| format!("arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/{name}");
    rows.push(saml(
        "other-role",
        "2024-05-01T10:00:00Z",
        &sso("AWSReservedSSO_ReadOnly_0123456789abcdef"),
        "dana@example.com",
        "ASIAOTHER1",
    ));
    rows.push(saml(
        "other-name",
        "2024-05-01T10:00:00Z",
        &sso("AWSReservedSSO_DeveloperAccess_0123456789abcdef"),
        "dana.w@example.com",
        "ASIAOTHER2",
    ));
    rows.push(saml(
        "later",
        "2024-05-01T10:01:00Z",
        &sso("AWSReservedSSO_DeveloperAccess_0123456789abcdef"),
        "dana@example.com",
        "ASIAOTHER3",
    ));
    let c = chain_of(&lookup(&rows), "ASIACON2");
    assert_eq!(methods(&c), ["AssumeRoleWithSAML"]);
    assert_one_sign_in_hop(&c.chain[0], false);

    // A second federation into the same role, session name and second is a true rival:
    // the data cannot say whose sign-in the console keys belong to.
    let mut twin = saml(
        "twin",
        "2024-05-01T10:00:00Z",
        &sso("AWSReservedSSO_DeveloperAccess_0123456789abcdef"),
        "dana@example.com",
        "ASIATWIN",
    );
    twin["userIdentity"]["userName"] = json!("mallory@example.com");
    twin["responseElements"]["subject"] = json!("mallory@example.com");
    rows.push(twin);
    let c = chain_of(&lookup(&rows), "ASIACON2");
    let unknown = c
        .chain
        .iter()
        .find(|h| h.confidence == Confidence::Unknown)
        .expect("an unknown hop");
    assert_eq!(unknown.method, "unknown");
    assert_eq!(unknown.event_id, None);
    let open: Vec<&str> = unknown
        .candidates
        .iter()
        .filter(|x| x.why_rejected_or_open.contains("callers differ"))
        .map(|x| x.event_id.as_str())
        .collect();
    assert_eq!(open, ["saml", "twin"]);
    assert_eq!(c.origin.kind, OriginKind::Unknown);
    assert!(c.notes.iter().any(|n| n.contains("ambiguous")));
}

#[test]
fn the_federation_keys_own_sign_in_record_is_issued_by_the_federation() {
    let l = lookup(&identity_center_console_records());
    let r = who(&l, &Subject::AccessKey("ASIASAMLKEY".into()), None, None).unwrap();
    assert_eq!(r.sessions.len(), 1);
    assert_eq!(methods(&r.sessions[0]), ["AssumeRoleWithSAML"]);
    assert_eq!(r.sessions[0].origin.kind, OriginKind::IdentityCenterUser);
}

#[test]
fn two_federated_sign_ins_by_different_sessions_stay_ambiguous() {
    // Two people federate into one role with the same session name in the same second and
    // both sign in to the console: a console key of that ARN and time could be either's.
    let at = "2024-05-01T10:00:00Z";
    let mut rows = Vec::new();
    for (n, who) in [(1, "jdoe@example.com"), (2, "rroe@example.com")] {
        let mut fed = saml(
            &format!("saml{n}"),
            at,
            &role(A, "Console"),
            "console",
            &format!("ASIASAML{n}"),
        );
        fed["userIdentity"]["userName"] = json!(who);
        fed["responseElements"]["subject"] = json!(who);
        rows.push(fed);
        rows.push(console_login(
            &format!("login{n}"),
            "2024-05-01T10:00:01Z",
            role_session(A, "Console", "console", Some(&format!("ASIASAML{n}")), at),
        ));
    }
    rows.push(console_call(
        "c1",
        "2024-05-01T10:03:00Z",
        role_session(A, "Console", "console", Some("ASIACONX"), at),
    ));
    let c = chain_of(&lookup(&rows), "ASIACONX");
    assert_eq!(c.chain.len(), 1);
    let h = &c.chain[0];
    assert_eq!(h.confidence, Confidence::Unknown);
    let open: Vec<&str> = h
        .candidates
        .iter()
        .filter(|x| x.why_rejected_or_open.contains("callers differ"))
        .map(|x| x.event_id.as_str())
        .collect();
    assert_eq!(open, ["login1", "login2"]);
    assert_eq!(c.origin.kind, OriginKind::Unknown);
    assert!(c.notes.iter().any(|n| n.contains("ambiguous")));

    // Without the second sign-in, the second federation still fits on its own (its
    // sign-in may be missing from the data): still no choice.
    rows.retain(|r| r["eventID"] != "login2");
    let c = chain_of(&lookup(&rows), "ASIACONX");
    let h = &c.chain[0];
    assert_eq!(h.confidence, Confidence::Unknown);
    let open: Vec<&str> = h
        .candidates
        .iter()
        .filter(|x| x.why_rejected_or_open.contains("callers differ"))
        .map(|x| x.event_id.as_str())
        .collect();
    assert_eq!(open, ["saml2", "login1"]);

    // With one federation and its sign-in, the chain goes through both, as one hop.
    rows.retain(|r| r["eventID"] != "saml2");
    let c = chain_of(&lookup(&rows), "ASIACONX");
    let ids: Vec<_> = c.chain.iter().map(|h| h.event_id.as_deref()).collect();
    assert_eq!(ids, [Some("saml1")]);
    assert_eq!(c.chain[0].other_event_ids, ["login1"]);
    assert_eq!(c.origin.kind, OriginKind::SAMLUser);
    assert_eq!(c.origin.identifier, "jdoe@example.com");
}

#[test]
fn identity_center_cli_credentials_match_by_role_user_and_time() {
    let at = "2024-05-01T10:00:00Z";
    let sso_role = "AWSReservedSSO_Dev_0123456789abcdef";
    let mut grc = call(
        "grc",
        at,
        json!({"type": "IdentityCenterUser", "accountId": A, "onBehalfOf": {"userId": "94482488-3041-7026-18f3-be45837cd0e4", "identityStoreArn": "arn:aws:identitystore::111111111111:identitystore/d-1234567890"}, "userName": "jdoe", "credentialId": "cred-1"}),
        "GetRoleCredentials",
        "198.51.100.7",
    );
    grc["eventSource"] = json!("sso.amazonaws.com");
    grc["requestParameters"] = json!({"roleName": sso_role, "accountId": A});
    grc["responseElements"] =
        json!({"roleCredentials": {"accessKeyId": "HIDDEN_DUE_TO_SECURITY_REASONS"}});
    let l = lookup(&[
        grc,
        call(
            "c1",
            "2024-05-01T10:00:30Z",
            role_session(A, sso_role, "jdoe", Some("ASIASSOCLI"), at),
            "ListBuckets",
            "198.51.100.7",
        ),
    ]);
    let c = chain_of(&l, "ASIASSOCLI");
    assert_eq!(methods(&c), ["GetRoleCredentials"]);
    assert_eq!(c.chain[0].confidence, Confidence::Probable);
    assert!(c.chain[0].reason.contains("redacts"));
    assert_eq!(c.origin.kind, OriginKind::IdentityCenterUser);
    assert_eq!(c.origin.identifier, "94482488-3041-7026-18f3-be45837cd0e4");
    assert!(c.origin.provider.unwrap().contains("identitystore"));
}

#[test]
fn session_and_federation_tokens_lead_to_the_user() {
    let at = "2024-05-01T10:00:00Z";
    let mut gst = assume_role(
        "gst",
        at,
        user(A, "carol", Some("AKIACAROL00000000001")),
        &role(A, "unused"),
        "x",
        "ASIACAROL",
    );
    gst["eventName"] = json!("GetSessionToken");
    gst["requestParameters"] = json!({"durationSeconds": 3600});
    gst["responseElements"] = json!({"credentials": {"accessKeyId": "ASIACAROL", "expiration": "Jan 1, 2030, 12:00:00 AM"}});
    let mut carol = user(A, "carol", Some("ASIACAROL"));
    carol["sessionContext"] =
        json!({"attributes": {"creationDate": at, "mfaAuthenticated": "true"}});
    let mut gft = call(
        "gft",
        at,
        user(A, "dave", Some("AKIADAVE000000000001")),
        "GetFederationToken",
        "198.51.100.7",
    );
    gft["eventSource"] = json!("sts.amazonaws.com");
    gft["requestParameters"] = json!({"name": "fed"});
    gft["responseElements"] = json!({"credentials": {"accessKeyId": "ASIAFED"}, "federatedUser": {"arn": format!("arn:aws:sts::{A}:federated-user/fed"), "federatedUserId": format!("{A}:fed")}});
    let fed = |key: &str, name: &str| {
        json!({"type": "FederatedUser", "principalId": format!("{A}:{name}"), "arn": format!("arn:aws:sts::{A}:federated-user/{name}"), "accountId": A, "accessKeyId": key,
                   "sessionContext": {"attributes": {"creationDate": at}, "sessionIssuer": {"type": "IAMUser", "arn": format!("arn:aws:iam::{A}:user/dave"), "accountId": A, "userName": "dave"}}})
    };
    let l = lookup(&[
        gst,
        call(
            "c1",
            "2024-05-01T10:01:00Z",
            carol,
            "ListBuckets",
            "198.51.100.7",
        ),
        gft,
        call(
            "c2",
            "2024-05-01T10:01:00Z",
            fed("ASIAFED", "fed"),
            "GetCallerIdentity",
            "198.51.100.7",
        ),
        call(
            "c3",
            "2024-05-01T10:01:00Z",
            fed("ASIAORPHAN", "orphan"),
            "GetCallerIdentity",
            "198.51.100.7",
        ),
    ]);
    let c = chain_of(&l, "ASIACAROL");
    assert_eq!(methods(&c), ["GetSessionToken"]);
    assert_eq!(c.chain[0].confidence, Confidence::Certain);
    assert!(c.origin.identifier.ends_with("user/carol"));
    let c = chain_of(&l, "ASIAFED");
    assert_eq!(methods(&c), ["GetFederationToken"]);
    assert_eq!(c.origin.kind, OriginKind::IAMUser);
    assert!(c.origin.identifier.ends_with("user/dave"));
    // Without its GetFederationToken: a FederatedUser origin, the parent named, and where to look.
    let c = chain_of(&l, "ASIAORPHAN");
    assert_eq!(c.origin.kind, OriginKind::FederatedUser);
    assert!(c.notes.iter().any(|n| n.contains("user/dave")));
    assert_eq!(c.continue_at.unwrap().look_for[0], "GetFederationToken");
}

#[test]
fn instances_functions_and_services_are_origins() {
    let at = "2024-05-01T10:00:00Z";
    let instance = |id: &str, svc: &str, role_name: &str, session: &str, key: &str| {
        let mut v = assume_role(id, at, service(svc), &role(A, role_name), session, key);
        v["sourceIPAddress"] = json!(svc);
        // Instance-profile and Lambda AssumeRole responses carry no assumedRoleUser.
        v["responseElements"]["assumedRoleUser"].take();
        v["responseElements"]
            .as_object_mut()
            .unwrap()
            .remove("assumedRoleUser");
        v
    };
    let mut scoped = role_session(A, "Web", "i-0abc12345def67890", Some("ASIAEC2"), at);
    scoped["inScopeOf"] = json!({"issuerType": "AWS::EC2::Instance", "credentialsIssuedTo": format!("arn:aws:ec2:eu-west-1:{A}:instance/i-0abc12345def67890")});
    let mut orphan = role_session(A, "Web", "i-0fff12345def67890", Some("ASIAORPHANEC2"), at);
    orphan["inScopeOf"] = json!({"issuerType": "AWS::EC2::Instance", "credentialsIssuedTo": format!("arn:aws:ec2:eu-west-1:{A}:instance/i-0fff12345def67890")});
    let l = lookup(&[
        instance(
            "ec2",
            "ec2.amazonaws.com",
            "Web",
            "i-0abc12345def67890",
            "ASIAEC2",
        ),
        call(
            "c1",
            "2024-05-01T10:01:00Z",
            scoped,
            "ListBuckets",
            "198.51.100.7",
        ),
        instance(
            "lam",
            "lambda.amazonaws.com",
            "FnRole",
            "my-function",
            "ASIALAMBDA",
        ),
        call(
            "c2",
            "2024-05-01T10:01:00Z",
            role_session(A, "FnRole", "my-function", Some("ASIALAMBDA"), at),
            "PutItem",
            "198.51.100.8",
        ),
        call(
            "c3",
            "2024-05-01T10:01:00Z",
            orphan,
            "ListBuckets",
            "198.51.100.9",
        ),
    ]);
    let c = chain_of(&l, "ASIAEC2");
    assert_eq!(methods(&c), ["EC2InstanceProfile"]);
    assert_eq!(c.chain[0].confidence, Confidence::Certain);
    assert_eq!(c.origin.kind, OriginKind::EC2Instance);
    assert_eq!(c.origin.identifier, "i-0abc12345def67890");
    let c = chain_of(&l, "ASIALAMBDA");
    assert_eq!(c.origin.kind, OriginKind::LambdaFunction);
    assert_eq!(c.origin.identifier, "my-function");
    let c = chain_of(&l, "ASIAORPHANEC2");
    assert!(c.chain.is_empty());
    assert_eq!(c.origin.kind, OriginKind::EC2Instance);
    assert_eq!(c.origin.identifier, "i-0fff12345def67890");
    assert!(c.notes.iter().any(|n| n.contains("inScopeOf")));
}

#[test]
fn source_identity_is_checked_against_the_chain() {
    let at = "2024-05-01T10:00:00Z";
    let mut honest = assume_role("e1", at, alice(), &role(A, "R"), "s1", "ASIAHONEST");
    honest["requestParameters"]["sourceIdentity"] = json!("alice");
    let mut liar = assume_role("e2", at, alice(), &role(A, "R"), "s2", "ASIALIAR");
    liar["requestParameters"]["sourceIdentity"] = json!("mallory");
    let mut s2 = role_session(A, "R", "s2", Some("ASIALIAR"), at);
    s2["sessionContext"]["sourceIdentity"] = json!("mallory");
    let l = lookup(&[
        honest,
        liar,
        call(
            "c1",
            "2024-05-01T10:01:00Z",
            role_session(A, "R", "s1", Some("ASIAHONEST"), at),
            "ListBuckets",
            "198.51.100.7",
        ),
        call(
            "c2",
            "2024-05-01T10:01:00Z",
            s2,
            "ListBuckets",
            "198.51.100.7",
        ),
    ]);
    let c = chain_of(&l, "ASIAHONEST");
    assert_eq!(c.asserted_source_identity.as_deref(), Some("alice"));
    assert!(
        !c.notes.iter().any(|n| n.contains("sourceIdentity")),
        "{:?}",
        c.notes
    );
    let c = chain_of(&l, "ASIALIAR");
    assert_eq!(c.asserted_source_identity.as_deref(), Some("mallory"));
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("'mallory' does not match")),
        "{:?}",
        c.notes
    );
}

#[test]
fn cycles_and_overlong_chains_stop_with_a_note() {
    // Two sessions that claim to have issued each other (edited records).
    let (t1, t2) = ("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z");
    let l = lookup(&[
        assume_role(
            "x1",
            t1,
            role_session(A, "R2", "b", Some("ASIAB"), t2),
            &role(A, "R1"),
            "a",
            "ASIAA",
        ),
        assume_role(
            "x2",
            t2,
            role_session(A, "R1", "a", Some("ASIAA"), t1),
            &role(A, "R2"),
            "b",
            "ASIAB",
        ),
        call(
            "c1",
            "2024-05-01T11:30:00Z",
            role_session(A, "R1", "a", Some("ASIAA"), t1),
            "ListBuckets",
            "198.51.100.7",
        ),
    ]);
    let c = chain_of(&l, "ASIAA");
    assert_eq!(c.chain.len(), 2);
    assert_eq!(c.origin.kind, OriginKind::Unknown);
    assert!(c.notes.iter().any(|n| n.starts_with("cycle")));

    // A chain of 40 role hops is cut at MAX_DEPTH.
    let base = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").unwrap();
    let time = |i: i64| {
        (base + chrono::Duration::minutes(i)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut rows = vec![assume_role(
        "h0",
        &time(0),
        alice(),
        &role(A, "R0"),
        "s",
        "ASIAHOP0",
    )];
    for i in 1..40 {
        let caller = role_session(
            A,
            &format!("R{}", i - 1),
            "s",
            Some(&format!("ASIAHOP{}", i - 1)),
            &time(i - 1),
        );
        rows.push(assume_role(
            &format!("h{i}"),
            &time(i),
            caller,
            &role(A, &format!("R{i}")),
            "s",
            &format!("ASIAHOP{i}"),
        ));
    }
    rows.push(call(
        "use",
        &time(41),
        role_session(A, "R39", "s", Some("ASIAHOP39"), &time(39)),
        "ListBuckets",
        "198.51.100.7",
    ));
    let c = chain_of(&lookup(&rows), "ASIAHOP39");
    assert_eq!(c.chain.len(), MAX_DEPTH);
    assert_eq!(c.origin.kind, OriginKind::Unknown);
    assert!(c.notes.iter().any(|n| n.contains("stopped after 32 hops")));
}

#[test]
fn a_missing_issuer_says_what_to_ingest() {
    let at = "2024-05-01T10:00:00Z";
    let l = lookup(&[call(
        "c1",
        "2024-05-01T10:30:00Z",
        role_session(A, "Web", "i-0123456789abcdef0", Some("ASIALOST"), at),
        "ListBuckets",
        "198.51.100.7",
    )]);
    let c = chain_of(&l, "ASIALOST");
    assert!(c.chain.is_empty());
    assert_eq!(c.origin.kind, OriginKind::Unknown);
    let at = c.continue_at.as_ref().unwrap();
    assert_eq!(at.account.as_deref(), Some(A));
    assert_eq!(at.principal, role(A, "Web"));
    assert_eq!(at.window_start.as_deref(), Some("2024-05-01T09:55:00Z"));
    assert!(at.look_for.iter().any(|m| m == "AssumeRole"));
    assert!(c.notes.iter().any(|n| n.contains("instance id")));
}

#[test]
fn service_minted_user_keys_have_no_issuer_and_invoked_by_is_reported() {
    let mut id = user(A, "alice", Some("ASIAFAS"));
    id["sessionContext"] = json!({"attributes": {"creationDate": "2024-05-01T11:57:49Z"}});
    id["invokedBy"] = json!("secretsmanager.amazonaws.com");
    let l = lookup(&[call(
        "c1",
        "2024-05-01T11:57:50Z",
        id,
        "Decrypt",
        "secretsmanager.amazonaws.com",
    )]);
    let c = chain_of(&l, "ASIAFAS");
    assert!(c.chain.is_empty());
    assert_eq!(c.origin.kind, OriginKind::IAMUser);
    assert_eq!(c.invoked_by, ["secretsmanager.amazonaws.com"]);
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("minted for secretsmanager.amazonaws.com"))
    );
    assert!(c.continue_at.is_none());
}

#[test]
fn a_finding_is_traced_with_its_window_and_ip() {
    let l = lookup(&[
        assume_role(
            "e1",
            "2024-05-01T10:00:00Z",
            alice(),
            &role(A, "R"),
            "s",
            "ASIAK1",
        ),
        call(
            "c1",
            "2024-05-01T10:05:00Z",
            role_session(A, "R", "s", Some("ASIAK1"), "2024-05-01T10:00:00Z"),
            "ListBuckets",
            "203.0.113.50",
        ),
    ]);
    let f = Finding {
        access_key_id: Some("ASIAK1".into()),
        first_seen: Some(backtrail_model::time::parse_iso("2024-05-01T10:04:00Z").unwrap()),
        last_seen: Some(backtrail_model::time::parse_iso("2024-05-01T10:06:00Z").unwrap()),
        ip: Some("203.0.113.50".into()),
        ..Default::default()
    };
    let r = who_finding(&l, &f).unwrap();
    assert_eq!(r.window_start.as_deref(), Some("2024-05-01T10:04:00Z"));
    assert_eq!(r.sessions.len(), 1);
    assert_eq!(r.sessions[0].used_hint_ip, Some(true));
    assert!(r.sessions[0].origin.identifier.ends_with("user/alice"));
    let empty = who_finding(&l, &Finding::default()).unwrap();
    assert!(empty.sessions.is_empty() && !empty.notes.is_empty());
}

#[test]
fn records_sharing_an_event_id_are_ordered_by_content_not_by_arrival() {
    use super::walk::tie_order;
    let iss = |principal: &str| backtrail_model::Issuance {
        event_id: "1111".into(),
        event_name: "ConsoleLogin".into(),
        caller_principal_id: Some(principal.into()),
        ..Default::default()
    };
    let mut a = vec![iss("123456789012"), iss("1111")];
    let mut b = vec![iss("1111"), iss("123456789012")];
    a.sort_by(tie_order);
    b.sort_by(tie_order);
    assert_eq!(a, b);
    assert_eq!(a[0].caller_principal_id.as_deref(), Some("1111"));
}
