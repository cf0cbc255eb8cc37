"""fsbridge: Twilio/Telnyx/jambonz-style conferencing on FreeSWITCH or a standalone numpy engine."""

__version__ = "0.1.0"
