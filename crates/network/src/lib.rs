//! Container networking: bridges, veths, IPAM, NAT, published ports, embedded DNS.
