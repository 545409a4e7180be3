"""Browse for Reachy Mini robots the way the official SDK does on Linux.

reachy_mini.utils.discovery.find_robots: python-zeroconf's ServiceBrowser on
_reachy-mini._tcp.local. for a while, get_service_info for each instance,
the robot's name from the robot_name TXT record, then only the robots that
accept a TCP connection on one of their addresses. Prints them as JSON.
Written for reachyd's tests from that description.
"""

import json
import socket
import sys
import time

from zeroconf import ServiceBrowser, ServiceListener, Zeroconf

SERVICE_TYPE = "_reachy-mini._tcp.local."


def text(v):
    if isinstance(v, bytes):
        return v.decode()
    return None if v is None else str(v)


class Collector(ServiceListener):
    def __init__(self):
        self.robots = []

    def add_service(self, zc, type_, name):
        info = zc.get_service_info(type_, name)
        if info is None:
            self.robots.append({"instance": name, "unresolved": True})
            return
        props = {text(k): text(v) for k, v in info.properties.items()}
        self.robots.append({
            "instance": name,
            "name": props.get("robot_name", name.removesuffix("." + SERVICE_TYPE)),
            "host": info.server or "",
            "port": info.port or 0,
            "addresses": [socket.inet_ntoa(a) for a in info.addresses],
            "properties": props,
        })

    def remove_service(self, zc, type_, name):
        pass

    def update_service(self, zc, type_, name):
        pass


def main():
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    zc = Zeroconf()
    collector = Collector()
    browser = ServiceBrowser(zc, SERVICE_TYPE, listener=collector)
    try:
        time.sleep(timeout)
    finally:
        browser.cancel()
        zc.close()
    for robot in collector.robots:
        robot["alive"] = False
        for addr in robot.get("addresses", []):
            try:
                socket.create_connection((addr, robot["port"]), timeout=0.5).close()
                robot["alive"] = True
                break
            except OSError:
                continue
    print(json.dumps(collector.robots))


if __name__ == "__main__":
    main()
