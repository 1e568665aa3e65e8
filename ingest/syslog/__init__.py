"""The syslog receivers: RFC 3164/5424 messages over UDP, TCP and TLS into the event store.

    SyslogReceivers(settings, database, clock)   .start() → listeners, .stop()
    ├── protocols   asyncio protocols on a loop thread: framing, limits, back-pressure
    ├── framing     RFC 6587 octet counting and LF framing, bounded memory
    └── writer      bounded queue → parser thread → writer thread, one transaction a batch

Each message is parsed by ``ingest.parsers.syslog`` and stored through ``ingest.batches``
(event id: a hash of the message bytes, so a resent message is stored once); what cannot
become an event goes to the dead letters with the reason. Syslog has no acknowledgement:
docs/shippers.md says what that means for senders.
"""

from ingest.syslog.framing import MAX_MESSAGE
from ingest.syslog.receivers import Limits, Listener, ReceiverStartError, SyslogReceivers

__all__ = ["MAX_MESSAGE", "Limits", "Listener", "ReceiverStartError", "SyslogReceivers"]
