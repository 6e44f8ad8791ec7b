//! UDP.
pub struct UdpSocket;
