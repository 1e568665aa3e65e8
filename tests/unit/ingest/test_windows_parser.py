"""The windows parser: flat EVTX-JSON and Winlogbeat documents become ECS, originals kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.normalise import finish
from ingest.parsers.base import ParseError
from ingest.parsers.windows import PARSERS

WINDOWS = PARSERS[0]
RECEIVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def parse(document):
    return WINDOWS.parse_document(document, received=RECEIVED)


def security(event_id, **fields):
    return {
        "EventID": event_id,
        "Channel": "Security",
        "Computer": "DC01.corp.example",
        "Provider_Name": "Microsoft-Windows-Security-Auditing",
        "SystemTime": "2024-05-01T08:15:00.123456Z",
        "EventRecordID": 4711,
        **fields,
    }


def sysmon(event_id, **fields):
    return {
        "EventID": event_id,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "WS07",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "SystemTime": "2020-06-09 22:50:54",
        **fields,
    }


def test_a_failed_logon_is_an_authentication_failure_with_user_and_source():
    event = parse(
        security(
            4625,
            TargetUserName="alice",
            TargetDomainName="CORP",
            IpAddress="10.1.2.3",
            IpPort="51234",
        )
    )
    assert event["event"] == {
        "kind": "event",
        "code": "4625",
        "provider": "Microsoft-Windows-Security-Auditing",
        "dataset": "windows.security",
        "category": ["authentication"],
        "type": ["start"],
        "action": "logon-failed",
        "outcome": "failure",
    }
    assert event["user"] == {"name": "alice", "domain": "CORP"}
    assert event["source"] == {"ip": "10.1.2.3", "port": 51234}
    assert event["host"] == {"name": "DC01.corp.example"}
    assert event["winlog"]["event_id"] == 4625
    assert event["winlog"]["record_id"] == 4711
    assert event["winlog"]["channel"] == "Security"


def test_every_original_field_stays_at_the_top_level_for_sigma_rules():
    original = security(4624, TargetUserName="bob", LogonType=3, IpAddress="-")
    event = parse(dict(original))
    for name, value in original.items():
        assert event[name] == value
    assert event["@timestamp"] == "2024-05-01T08:15:00.123456Z"


def test_the_callers_document_is_not_changed():
    original = {
        "winlog": {"event_id": 4624, "channel": "Security", "event_data": {"TargetUserName": "x"}},
        "event": {"code": "4624"},
    }
    parse(original)
    assert original == {
        "winlog": {"event_id": 4624, "channel": "Security", "event_data": {"TargetUserName": "x"}},
        "event": {"code": "4624"},
    }


def test_a_successful_logon_falls_back_to_the_subject_when_the_target_is_a_placeholder():
    event = parse(security(4624, TargetUserName="-", SubjectUserName="svc", SubjectDomainName="C"))
    assert event["event"]["outcome"] == "success"
    assert event["user"] == {"name": "svc", "domain": "C"}


@pytest.mark.parametrize(
    ("event_id", "action", "kind"),
    [
        (4634, "logged-out", "end"),
        (4647, "logged-out", "end"),
        (4648, "logged-in-explicit", "start"),
    ],
)
def test_logoff_and_explicit_logon_are_authentication_events(event_id, action, kind):
    event = parse(security(event_id, TargetUserName="alice"))["event"]
    assert (event["category"], event["type"], event["action"]) == (
        ["authentication"],
        [kind],
        action,
    )


def test_special_privileges_at_logon_are_an_iam_admin_event():
    event = parse(security(4672, SubjectUserName="Administrator"))
    assert (event["event"]["category"], event["event"]["type"]) == (["iam"], ["admin"])
    assert event["user"]["name"] == "Administrator"


def test_account_management_names_the_actor_and_the_account_acted_on():
    event = parse(
        security(
            4720,
            SubjectUserName="admin",
            SubjectDomainName="CORP",
            TargetUserName="newbie",
            TargetDomainName="CORP",
        )
    )
    assert event["event"]["category"] == ["iam"]
    assert event["event"]["type"] == ["user", "creation"]
    assert event["event"]["action"] == "added-user-account"
    assert event["user"] == {
        "name": "admin",
        "domain": "CORP",
        "target": {"name": "newbie", "domain": "CORP"},
    }
    assert event["related"]["user"] == ["admin", "newbie"]


@pytest.mark.parametrize(
    ("event_id", "action"),
    [
        (4722, "enabled-user-account"),
        (4725, "disabled-user-account"),
        (4726, "deleted-user-account"),
        (4738, "modified-user-account"),
        (4740, "locked-out-user-account"),
    ],
)
def test_account_changes_have_their_own_actions(event_id, action):
    event = parse(security(event_id, SubjectUserName="DC01$", TargetUserName="carol"))
    assert event["event"]["action"] == action
    assert event["user"]["target"]["name"] == "carol"


@pytest.mark.parametrize(
    ("event_id", "status", "outcome"),
    [
        (4768, "0x0", "success"),
        (4768, "0x18", "failure"),
        (4769, "0x0", "success"),
        (4769, "0x1F", "failure"),
        (4776, "0xc000006a", "failure"),
        (4776, "0x0", "success"),
    ],
)
def test_kerberos_and_ntlm_outcomes_come_from_the_status(event_id, status, outcome):
    event = parse(security(event_id, TargetUserName="alice", Status=status))
    assert event["event"]["outcome"] == outcome
    assert event["event"]["category"] == ["authentication"]


def test_kerberos_without_a_status_has_no_outcome():
    assert "outcome" not in parse(security(4768, TargetUserName="alice"))["event"]


def test_kerberos_pre_authentication_failure_is_a_failure():
    event = parse(
        security(4771, TargetUserName="alice", Status="0x18", IpAddress="::ffff:10.0.0.9")
    )
    assert event["event"]["outcome"] == "failure"
    assert event["source"]["ip"] == "10.0.0.9"  # IPv4-mapped IPv6 as the IPv4 it is


def test_a_cleared_security_log_is_an_audit_log_cleared_event():
    event = parse(security(1102, Provider_Name="Microsoft-Windows-Eventlog", SubjectUserName="eve"))
    assert event["event"]["action"] == "audit-log-cleared"
    assert event["event"]["provider"] == "Microsoft-Windows-Eventlog"
    assert event["user"]["name"] == "eve"


def test_security_process_creation_maps_the_new_process_and_its_creator():
    event = parse(
        security(
            4688,
            NewProcessName="C:\\Windows\\System32\\cmd.exe",
            NewProcessId="0x1a4",
            ProcessId="0x3e8",
            ParentProcessName="C:\\Windows\\explorer.exe",
            CommandLine="cmd.exe /c whoami",
            SubjectUserName="alice",
        )
    )
    assert event["event"]["category"] == ["process"]
    assert event["process"] == {
        "executable": "C:\\Windows\\System32\\cmd.exe",
        "name": "cmd.exe",
        "pid": 0x1A4,
        "command_line": "cmd.exe /c whoami",
        "parent": {"pid": 0x3E8, "executable": "C:\\Windows\\explorer.exe"},
    }


def test_sysmon_process_creation_maps_image_command_line_and_parent():
    event = parse(
        sysmon(
            1,
            Image="C:\\Tools\\psexec.exe",
            CommandLine="psexec \\\\host cmd",
            ProcessId=4242,
            ParentImage="C:\\Windows\\System32\\cmd.exe",
            ParentProcessId=100,
            User="CORP\\alice",
        )
    )
    assert event["event"]["dataset"] == "windows.sysmon"
    assert event["event"]["action"] == "process-created"
    assert event["event"]["type"] == ["start"]
    assert event["process"]["executable"] == "C:\\Tools\\psexec.exe"
    assert event["process"]["name"] == "psexec.exe"
    assert event["process"]["pid"] == 4242
    assert event["process"]["parent"] == {
        "executable": "C:\\Windows\\System32\\cmd.exe",
        "pid": 100,
    }
    assert event["user"] == {"name": "alice", "domain": "CORP"}
    assert event["@timestamp"] == "2020-06-09 22:50:54"


def test_sysmon_network_connection_has_source_and_destination():
    event = parse(
        sysmon(
            3,
            Image="C:\\x.exe",
            SourceIp="192.168.1.5",
            SourcePort=50000,
            DestinationIp="203.0.113.7",
            DestinationPort=443,
        )
    )
    assert event["event"]["category"] == ["network"]
    assert event["source"] == {"ip": "192.168.1.5", "port": 50000}
    assert event["destination"] == {"ip": "203.0.113.7", "port": 443}
    assert event["related"]["ip"] == ["192.168.1.5", "203.0.113.7"]


@pytest.mark.parametrize(
    ("event_id", "field", "value", "path"),
    [
        (11, "TargetFilename", "C:\\evil.dll", ("file", "path")),
        (12, "TargetObject", "HKLM\\Software\\Run", ("registry", "path")),
        (13, "TargetObject", "HKLM\\Software\\Run\\x", ("registry", "path")),
        (22, "QueryName", "evil.example", ("dns", "question", "name")),
    ],
)
def test_sysmon_file_registry_and_dns_events_say_what_they_are_about(event_id, field, value, path):
    event = parse(sysmon(event_id, **{field: value}))
    found = event
    for name in path:
        found = found[name]
    assert found == value
    assert event["event"]["category"]


@pytest.mark.parametrize(
    ("channel", "dataset"),
    [
        ("Microsoft-Windows-PowerShell/Operational", "windows.powershell"),
        ("Windows PowerShell", "windows.powershell"),
        ("System", "windows.system"),
        ("Microsoft-Windows-Bits-Client/Operational", "windows.bits_client_operational"),
    ],
)
def test_the_dataset_follows_the_channel(channel, dataset):
    event = parse({"EventID": 4104, "Channel": channel, "Provider_Name": "x"})
    assert event["event"]["dataset"] == dataset


@pytest.mark.parametrize("address", ["-", "", "999.1.1.1", "not-an-ip", "1" * 100])
def test_addresses_that_are_not_ip_addresses_are_left_out_of_ecs(address):
    event = parse(security(4625, TargetUserName="a", IpAddress=address, IpPort="0"))
    assert "source" not in event
    assert event["IpAddress"] == address


def test_a_zone_id_is_dropped_from_an_ipv6_address():
    event = parse(security(4624, TargetUserName="a", IpAddress="fe80::1%" + "x" * 40))
    assert event["source"]["ip"] == "fe80::1"


def test_an_event_id_written_as_text_is_read_as_a_number_and_kept_as_text():
    event = parse(security("4625", TargetUserName="a"))
    assert event["event"]["code"] == "4625"
    assert event["event"]["outcome"] == "failure"
    assert event["EventID"] == "4625"


@pytest.mark.parametrize("event_id", [[4624], 2**80, -1, 70000, "4624; DROP", True, None, 4.5])
def test_an_event_id_that_is_not_a_16_bit_number_is_refused(event_id):
    with pytest.raises(ParseError, match="EventID must be a whole number"):
        parse(security(event_id))


def test_a_document_with_neither_shape_is_refused_with_the_reason():
    with pytest.raises(ParseError, match="neither a winlog object nor an EventID"):
        parse({"message": "hello"})


def test_source_fields_named_like_ecs_objects_move_to_labels_before_ecs_is_added():
    event = parse(sysmon(1, Image="C:\\a.exe", process="sshd.exe", wachter={"flags": ["forged"]}))
    assert event["labels"] == {"process": "sshd.exe", "wachter": {"flags": ["forged"]}}
    assert event["process"]["executable"] == "C:\\a.exe"
    assert "wachter" not in event


def test_winlogbeat_documents_are_kept_and_only_missing_basics_filled():
    document = {
        "@timestamp": "2024-05-01T08:15:00Z",
        "event": {"code": "4625", "action": "logon-failed-custom", "outcome": "failure"},
        "winlog": {
            "channel": "Security",
            "event_id": "4625",
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "computer_name": "DC01",
            "record_id": 99,
            "event_data": {
                "TargetUserName": "mallory",
                "TargetDomainName": "CORP",
                "IpAddress": "198.51.100.4",
                "IpPort": "-",
            },
        },
        "host": {"name": "dc01.corp.example"},
    }
    event = parse(document)
    assert event["event"]["action"] == "logon-failed-custom"  # the shipper's choice stays
    assert event["event"]["category"] == ["authentication"]
    assert event["event"]["dataset"] == "windows.security"
    assert event["event"]["provider"] == "Microsoft-Windows-Security-Auditing"
    assert event["host"] == {"name": "dc01.corp.example"}
    assert event["user"] == {"name": "mallory", "domain": "CORP"}
    assert event["source"] == {"ip": "198.51.100.4"}
    assert event["winlog"] == document["winlog"]


def test_a_winlogbeat_document_without_an_event_id_still_passes():
    event = parse({"winlog": {"channel": "Application"}, "message": "hi"})
    assert event["event"]["dataset"] == "windows.application"
    assert "code" not in event["event"]


def test_a_winlogbeat_event_id_that_is_not_a_number_is_refused():
    with pytest.raises(ParseError, match="EventID"):
        parse({"winlog": {"event_id": {"nested": 1}}})


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"winlog": {}}, True),
        ({"EventID": 1, "Channel": "x"}, True),
        ({"EventID": 1, "Provider_Name": "x"}, True),
        ({"EventID": 1}, False),
        ({"winlog": "text", "Channel": "Security"}, False),
        ({"event": {"code": "4624"}}, False),
    ],
)
def test_detection_claims_both_windows_shapes_and_nothing_else(document, expected):
    assert WINDOWS.detect_document(document) is expected


@pytest.mark.parametrize(
    ("system_time", "stored"),
    [
        ("2020-06-09 22:50:54", "2020-06-09T22:50:54Z"),
        ("2017-08-30T19:13:38.198482Z", "2017-08-30T19:13:38.198482Z"),
        ("2020-06-09T22:50:54.841976800Z", "2020-06-09T22:50:54.841976Z"),
        ("2020-06-09 22:50:54.123", "2020-06-09T22:50:54.123000Z"),
    ],
)
def test_windows_system_times_become_the_event_time(system_time, stored):
    record = finish(
        parse(security(4624, TargetUserName="a", SystemTime=system_time)),
        source="test",
        event_key="1",
        ingested=RECEIVED,
    )
    assert record.timestamp.isoformat().replace("+00:00", "Z") == stored
    assert record.dataset == "windows.security"
    assert record.user_name == "a"


@pytest.mark.parametrize("field", ["SystemTime", "@timestamp"])
def test_a_time_too_large_to_be_a_time_is_refused(field):
    with pytest.raises(ParseError, match="too large"):
        parse(security(4624, **{field: 10**400}))


def test_a_failed_logon_with_an_over_long_user_name_is_still_stored():
    # finish() refuses over-long ECS keywords; copying the name would hide the attempt.
    record = finish(
        parse(security(4625, TargetUserName="a" * 2000, IpAddress="10.0.0.1")),
        source="test",
        event_key="1",
        ingested=RECEIVED,
    )
    assert record.outcome == "failure"
    assert record.user_name is None
    assert record.source_ip == "10.0.0.1"
    assert '"TargetUserName":"' + "a" * 2000 in record.document
