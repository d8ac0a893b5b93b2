//! An [`Event`] back to the record AWS wrote: same fields, same values, same order.

use crate::record::push_json_string;
use backtrail_model::Event;
use backtrail_model::time::format_iso;

/// The record as JSON text. Fields kept verbatim (`extra`) win over columns; fields that
/// were not in the record (derived from a shipper's fields) are not invented.
pub fn to_json(ev: &Event) -> String {
    let extra: Vec<(String, String)> = ev
        .extra
        .as_deref()
        .map(|x| {
            sonic_rs::to_object_iter(x)
                .filter_map(Result::ok)
                .map(|(k, v)| (k.to_string(), v.as_raw_str().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mut out = String::with_capacity(1024);
    out.push('{');
    let mut first = true;
    let mut used_extra = vec![false; extra.len()];
    for key in ev.key_order.split(',').filter(|k| !k.is_empty()) {
        let value = match extra
            .iter()
            .enumerate()
            .find(|(i, (k, _))| k == key && !used_extra[*i])
        {
            Some((i, (_, raw))) => {
                used_extra[i] = true;
                Some(raw.clone())
            }
            None => column_value(ev, key),
        };
        let Some(value) = value else { continue };
        if !first {
            out.push(',');
        }
        first = false;
        push_json_string(&mut out, key);
        out.push(':');
        out.push_str(&value);
    }
    out.push('}');
    out
}

fn s(v: &Option<String>) -> Option<String> {
    v.as_ref().map(|x| {
        let mut o = String::with_capacity(x.len() + 2);
        push_json_string(&mut o, x);
        o
    })
}

fn b(v: Option<bool>) -> Option<String> {
    v.map(|x| x.to_string())
}

fn column_value(ev: &Event, key: &str) -> Option<String> {
    use crate::record::Top::*;
    match crate::record::top_field(key)? {
        EventVersion => s(&ev.event_version),
        UserIdentity => ev.user_identity.clone(),
        EventTime => s(&Some(format_iso(ev.event_time))),
        EventSource => s(&Some(ev.event_source.clone())),
        EventName => s(&Some(ev.event_name.clone())),
        AwsRegion => s(&ev.aws_region),
        SourceIp => s(&ev.source_ip),
        UserAgent => s(&ev.user_agent),
        ErrorCode => s(&ev.error_code),
        ErrorMessage => s(&ev.error_message),
        RequestParameters => ev.request_parameters.clone(),
        ResponseElements => ev.response_elements.clone(),
        AdditionalEventData => ev.additional_event_data.clone(),
        RequestId => s(&ev.request_id),
        EventId => s(&Some(ev.event_id.clone())),
        ReadOnly => b(ev.read_only),
        Resources => ev.resources.clone(),
        EventType => s(&ev.event_type),
        ManagementEvent => b(ev.management_event),
        RecipientAccountId => s(&ev.recipient_account_id),
        SharedEventId => s(&ev.shared_event_id),
        VpcEndpointId => s(&ev.vpc_endpoint_id),
        VpcEndpointAccountId => s(&ev.vpc_endpoint_account_id),
        ServiceEventDetails => ev.service_event_details.clone(),
        EventCategory => s(&ev.event_category),
        TlsDetails => ev.tls_details.clone(),
        SessionCredentialFromConsole => s(&b(ev.session_credential_from_console)),
    }
}
