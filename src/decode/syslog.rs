//! The syslog header shared by the syslog-borne formats (PAN-OS, Cisco ASA, OpenVPN):
//! TODO (being written).
