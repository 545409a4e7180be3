// Package discovery makes the daemon findable on the local network as the
// reference daemon is, and reports the Wi-Fi address of the status.
//
// # The advertisement
//
// The reference registers, with python-zeroconf, the DNS-SD service
// "<robot_name>._reachy-mini._tcp.local." on the API's port, its SRV record
// pointing at "<hostname>.local.", with the TXT records version,
// robot_name, ws_path=/ws/sdk, address (the host's primary address), model
// (Reachy Mini Wireless or Lite), manufacturer, caps, api and, when the
// robot's audio board is present, unit_id (TXT gives them in that order).
// On a name conflict it takes "<name>-2", "-3"... On a rename it
// unregisters (goodbye) and registers the new name. The official SDK finds
// robots by browsing that type (find_robots) and matching the robot_name
// TXT record, then connects to the addresses of the SRV target.
//
// The Responder here publishes the same records, and also the A records of
// the SRV target: the reference leaves them to the host's avahi, which a
// machine without avahi lacks, and python-zeroconf's resolver needs an
// address to report a robot at all.
//
// # The responder
//
// A small mDNS responder (RFC 6762) over golang.org/x/net: ipv4 for the
// multicast socket with per-packet interface information, dns/dnsmessage
// for the wire format. hashicorp/mdns's server, the library first
// considered, answers every query by unicast to its sender (a browser on
// port 5353 sharing it with avahi may never see the answer), never
// announces, never says goodbye, cannot tell which interface a query came
// in on, and does not probe for conflicts; wrapping it would have left
// its receive path to replace anyway. What it does:
//
//   - one UDP socket on 0.0.0.0:5353 (SO_REUSEADDR, shared with avahi and
//     the browsers on the host), joined to 224.0.0.251 on each advertised
//     interface; packets from other interfaces are ignored;
//   - the interfaces follow the API's binding (Select): all non-loopback
//     multicast interfaces with IPv4 for 0.0.0.0, the interface holding the
//     address for one address, none for loopback (the daemon does not even
//     start the responder), or those forced by --mdns-interface; they are
//     read again every 5 s (Wi-Fi comes up late at boot; DHCP renews);
//   - each interface's answers carry that interface's addresses only;
//   - probing (three probes 250 ms apart, with the simultaneous-probe
//     tie-break), then three announcements one second apart; a conflict on
//     the instance name (a response from another host with other SRV/TXT
//     data) takes "<name>-2" and so on as the reference does, one on the
//     host name (another host's address under our host name: robots all
//     ship as reachy-mini) takes "<host>-2" as avahi does; records heard
//     from this host's own addresses are never conflicts;
//   - answers to port-5353 queries are multicast, also for questions with
//     the unicast-response bit (always received, never taken by another
//     socket); one-shot queries from other ports get a unicast answer with
//     their ID and question and TTLs of at most 10 s; known answers are
//     suppressed; multicast answers are capped at 20 per second and
//     interface;
//   - Rename says goodbye (TTL 0, sent twice) for the old instance, then
//     probes and announces the new one; Close says goodbye.
//
// Not done: IPv6 (the reference's responder is IPv4-only as configured),
// the random 20-120 ms delay before answering shared records, NSEC records
// for the host's missing AAAA, goodbyes on an interface that went away.
//
// # wlan_ip
//
// The reference reports, with --wireless-version only, wlan0's IPv4
// address, read once at start. WlanIP reads it again at most every 3 s,
// and takes wlan0, else another wlan* or an interface sysfs calls wireless.
//
// # Tests
//
// Records, answers, conflicts, interface selection and wlan_ip are unit
// tested on made-up interface lists, with a fuzz target over arbitrary
// packets. cmd/reachyd's mdns tests run the daemon in a private network
// namespace on veth interfaces and resolve it with hashicorp/mdns's client,
// with python-zeroconf (the SDK's resolver, running the SDK's find_robots
// steps) where installed, and with avahi-browse where avahi is installed;
// they check the records, the per-interface addresses, the silence on
// interfaces the API does not listen on and on loopback, the goodbye and
// announcement of a rename, and conflicts between two daemons.
package discovery
