//! One CloudTrail record and its hand-written compact JSON rendering, in the field order
//! AWS uses. Everything borrows: the hot background path renders straight into the open
//! log file's buffer without building a value tree.

use crate::time::push_iso;

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    use std::fmt::Write as _;
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// TLS details of a call made over the public endpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tls<'a> {
    pub v13: bool,
    pub host: &'a str,
}

/// One CloudTrail record. Raw JSON fragments (`identity`, `request`, ...) are inserted as
/// they are; `None` means `null` for request/response and "absent" for the rest.
#[derive(Clone, Debug)]
pub(crate) struct Rec<'a> {
    pub version: &'a str,
    pub identity: &'a str,
    pub time: i64,
    pub source: &'a str,
    pub name: &'a str,
    pub region: &'a str,
    pub ip: &'a str,
    pub ua: &'a str,
    pub error: Option<(&'a str, &'a str)>,
    pub request: Option<&'a str>,
    pub response: Option<&'a str>,
    pub additional: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub event_id: &'a str,
    pub read_only: bool,
    pub resources: Option<&'a str>,
    pub event_type: &'a str,
    pub management: bool,
    pub recipient: &'a str,
    pub shared_event_id: Option<&'a str>,
    pub vpce: Option<(&'a str, &'a str)>,
    pub service_details: Option<&'a str>,
    pub category: &'a str,
    pub tls: Option<Tls<'a>>,
    pub console: bool,
}

impl<'a> Rec<'a> {
    /// A management-event API call with everything optional left out.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call(
        identity: &'a str,
        time: i64,
        source: &'a str,
        name: &'a str,
        region: &'a str,
        ip: &'a str,
        ua: &'a str,
        event_id: &'a str,
        recipient: &'a str,
    ) -> Self {
        Rec {
            version: crate::catalog::event_version(source),
            identity,
            time,
            source,
            name,
            region,
            ip,
            ua,
            error: None,
            request: None,
            response: None,
            additional: None,
            request_id: None,
            event_id,
            read_only: true,
            resources: None,
            event_type: "AwsApiCall",
            management: true,
            recipient,
            shared_event_id: None,
            vpce: None,
            service_details: None,
            category: "Management",
            tls: None,
            console: false,
        }
    }

    /// Renders the record as compact JSON.
    pub(crate) fn write(&self, o: &mut String) {
        o.push_str("{\"eventVersion\":\"");
        o.push_str(self.version);
        o.push_str("\",\"userIdentity\":");
        o.push_str(self.identity);
        o.push_str(",\"eventTime\":\"");
        push_iso(o, self.time);
        o.push_str("\",\"eventSource\":\"");
        o.push_str(self.source);
        o.push_str("\",\"eventName\":\"");
        o.push_str(self.name);
        o.push_str("\",\"awsRegion\":\"");
        o.push_str(self.region);
        o.push_str("\",\"sourceIPAddress\":");
        push_json_str(o, self.ip);
        o.push_str(",\"userAgent\":");
        push_json_str(o, self.ua);
        if let Some((code, msg)) = self.error {
            if !code.is_empty() {
                o.push_str(",\"errorCode\":");
                push_json_str(o, code);
            }
            o.push_str(",\"errorMessage\":");
            push_json_str(o, msg);
        }
        o.push_str(",\"requestParameters\":");
        o.push_str(self.request.unwrap_or("null"));
        o.push_str(",\"responseElements\":");
        o.push_str(self.response.unwrap_or("null"));
        if let Some(a) = self.additional {
            o.push_str(",\"additionalEventData\":");
            o.push_str(a);
        }
        if let Some(r) = self.request_id {
            o.push_str(",\"requestID\":\"");
            o.push_str(r);
            o.push('"');
        }
        o.push_str(",\"eventID\":\"");
        o.push_str(self.event_id);
        o.push_str("\",\"readOnly\":");
        o.push_str(if self.read_only { "true" } else { "false" });
        if let Some(r) = self.resources {
            o.push_str(",\"resources\":");
            o.push_str(r);
        }
        o.push_str(",\"eventType\":\"");
        o.push_str(self.event_type);
        o.push_str("\",\"managementEvent\":");
        o.push_str(if self.management { "true" } else { "false" });
        o.push_str(",\"recipientAccountId\":\"");
        o.push_str(self.recipient);
        o.push('"');
        if let Some(s) = self.shared_event_id {
            o.push_str(",\"sharedEventID\":\"");
            o.push_str(s);
            o.push('"');
        }
        if let Some((id, acct)) = self.vpce {
            o.push_str(",\"vpcEndpointId\":\"");
            o.push_str(id);
            o.push_str("\",\"vpcEndpointAccountId\":\"");
            o.push_str(acct);
            o.push('"');
        }
        if let Some(d) = self.service_details {
            o.push_str(",\"serviceEventDetails\":");
            o.push_str(d);
        }
        o.push_str(",\"eventCategory\":\"");
        o.push_str(self.category);
        o.push('"');
        if let Some(t) = self.tls {
            o.push_str(if t.v13 {
                ",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\""
            } else {
                ",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.2\",\"cipherSuite\":\"ECDHE-RSA-AES128-GCM-SHA256\",\"clientProvidedHostHeader\":\""
            });
            o.push_str(t.host);
            o.push_str("\"}");
        }
        if self.console {
            o.push_str(",\"sessionCredentialFromConsole\":\"true\"");
        }
        o.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\nd\u{1}");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001\"");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v.as_str().unwrap(), "a\"b\\c\nd\u{1}");
    }

    #[test]
    fn renders_valid_json() {
        let r = Rec::call(
            "{\"type\":\"AWSService\",\"invokedBy\":\"ec2.amazonaws.com\"}",
            1_790_812_800,
            "sts.amazonaws.com",
            "AssumeRole",
            "us-east-1",
            "ec2.amazonaws.com",
            "ec2.amazonaws.com",
            "e",
            "111122223333",
        );
        let mut s = String::new();
        r.write(&mut s);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["eventTime"], "2026-10-01T00:00:00Z");
        assert!(v["requestParameters"].is_null());
    }
}
