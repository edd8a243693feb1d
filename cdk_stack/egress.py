"""A static IP per client group: the broker calls of each client (or family) leave from an
Elastic IP of its own.

The rule (SEBI's retail-algo framework, in force from 2026-04-01 through the exchanges'
standards): brokers accept API orders only from the client's registered static IP, one client
per address; spouse, dependent children and dependent parents may share one. `BrokerEgress`
(`brokers.py`) gives every user the same NAT address, which breaks it; this construct gives
each configured group (`client_egress.groups`) its own address.

Design: proxy instances with secondary private IPs, one Elastic IP per group.

- Each group gets a secondary private IP on a proxy instance's network interface, and an Elastic
  IP associated with exactly that private IP. The instance runs a small forward proxy
  (`PROXY_PROGRAM`: Python standard library, no packages, systemd) with one port per group: a
  CONNECT on group n's port is tunnelled from a socket bound to the private IP that carries
  group n's Elastic IP at that moment (the proxy asks the instance metadata for every tunnel,
  so it never relies on the order of the addresses), so the broker sees group n's Elastic IP
  or nothing. TLS stays end to end (the proxy sees host names only).
  Anything but CONNECT to port 443 is refused, and the proxy URL names its group
  (`http://<group>:@host:port`, sent as Proxy-Authorization): a call on another group's port is
  refused (407), never sent from the wrong client's address, even while a deploy moves ports.
- Broker-calling functions reach the proxies on their private address (same VPC); the runtime
  side is `shared_utils.brokers.egress` (`CLIENT_EGRESS` document: `environment()`), which fails
  closed for an account without a group.
- An instance holds `max ENIs x (IPv4 per ENI - 1)` groups (each ENI's primary address is not
  used for clients); more groups get more instances (shards), spread over the public subnets.
  The ENIs are resources of their own, all of an instance's created with it (unused ones cost
  nothing), and the image is resolved at launch (`resolve:ssm:`): nothing that forces a
  replacement changes as groups come and go or a new AMI appears. Adding a group adds a
  secondary IP (in place) and changes the user data, which CloudFormation applies by stopping
  and starting that instance (a minute without egress for its groups: deploy outside market
  hours); the user data re-runs on every boot (cloud-init `scripts-user, always`) and rewrites
  the proxy's configuration.
- Elastic IPs are retained (default) and can be pre-allocated (`eip_allocation_id`): a registered
  address must never change silently, brokers allow one change a week.

Cost per client per month in ap-south-1 (730 h; on-demand, Linux):
- public IPv4 address: $0.005/h = $3.65 (every design pays this per client; AWS VPC pricing,
  "Public IPv4 Address" tab, charged since 2024-02-01);
- t4g.small $0.0112/h = $8.18 + 8 GiB gp3 root $0.73 ($0.0912/GB-month) for 9 groups (3 ENIs x
  3 secondary IPs): $0.99 a group when full, so $4.64 per client; t4g.nano ($0.0028/h, 2
  groups) $5.04; t4g.large ($0.0448/h, 33 groups) $4.66;
- for comparison: a t4g.nano NAT/proxy instance per client $6.42 (one address each, no sharing of
  the instance), a NAT gateway per client about $44.50 ($0.056/h + its address).
Instance prices: the EC2 price list for ap-south-1 as mirrored in skypilot-org/skypilot-catalog
(`catalogs/v8/aws/vms.csv`); the IPv4 price: aws.amazon.com/vpc/pricing. Data through the proxy
is broker API traffic (kilobytes an order): its transfer charge is negligible.

Limits to know: the account's Elastic IP quota (5 per region by default: raise "EC2-VPC Elastic
IPs" before deploying more groups); an instance is one Availability Zone (a client may register a
second address, brokers allow two); a CloudFormation template holds 200 outputs and 500
resources (roughly 150 groups per stack); `environment()` refuses a document that might not fit
a Lambda environment (3 KB of its 4 KB: about 18 groups of one user id each): beyond that,
publish `document()` elsewhere (an SSM parameter) or keep membership on the account records.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from aws_cdk import (
    Acknowledgment,
    CfnOutput,
    CfnTag,
    Fn,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from cdk_stack.config import ClientEgressConfig, ClientEgressGroup
from shared_utils.brokers.egress import EGRESS_ENVIRONMENT_VARIABLE

HTTPS = 443
# (network interfaces, IPv4 addresses per interface): EC2 User Guide, "IP addresses per network
# interface per instance type". Each interface keeps its primary address for the instance.
INSTANCE_LIMITS: dict[str, tuple[int, int]] = {
    "t4g.nano": (2, 2),
    "t4g.micro": (2, 2),
    "t4g.small": (3, 4),
    "t4g.medium": (3, 6),
    "t4g.large": (3, 12),
    "t4g.xlarge": (4, 15),
    "t4g.2xlarge": (4, 15),
}
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
ROOT_VOLUME_GIB = 8
CONNECT_TIMEOUT_S = 5
# Lambda's limit for all of a function's environment variables together is 4 KB.
MAX_DOCUMENT_BYTES = 3072


def groups_per_instance(instance_type: str) -> int:
    interfaces, addresses = INSTANCE_LIMITS[instance_type]
    return interfaces * (addresses - 1)


def groups_per_interface(instance_type: str) -> int:
    return INSTANCE_LIMITS[instance_type][1] - 1


@dataclass(frozen=True)
class EgressAddress:
    """One group's egress as the stack knows it (tokens until deployed)."""

    group: ClientEgressGroup
    port: int
    private_ip: str
    public_ip: str
    proxy_url: str


class ClientEgress(Construct):
    """One Elastic IP per client group, on proxy instances in `vpc`'s public subnets, reachable
    on the group's port from `clients` (the broker-calling functions' security group)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: ClientEgressConfig,
        vpc: ec2.IVpc,
        clients: ec2.ISecurityGroup,
        name_prefix: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        subnets = vpc.public_subnets
        if not subnets:
            raise ValueError("client egress needs a public subnet (a route to an internet gateway)")
        self.options = options
        last_port = options.first_port + len(options.groups) - 1

        self.security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description="Client egress proxies: group ports from broker-calling functions, out HTTPS only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS), "HTTPS to brokers")
        self.security_group.connections.allow_from(
            clients,
            ec2.Port.tcp_range(options.first_port, last_port),
            "Broker calls to the proxy port of their client group",
        )

        image_id = (
            ec2.MachineImage.resolve_ssm_parameter_at_launch(AMI_PARAMETER, os=ec2.OperatingSystemType.LINUX)
            .get_image(self)
            .image_id
        )
        per_instance = groups_per_instance(options.instance_type)
        per_interface = groups_per_interface(options.instance_type)
        interfaces_per_instance = INSTANCE_LIMITS[options.instance_type][0]
        self.addresses: list[EgressAddress] = []
        self.instances: list[ec2.CfnInstance] = []
        for shard in range(math.ceil(len(options.groups) / per_instance)):
            first = shard * per_instance
            members = list(enumerate(options.groups[first : first + per_instance], start=first))
            subnet = subnets[shard % len(subnets)]
            interfaces = []
            shard_addresses = []
            # Every interface the instance type takes, used or not (they cost nothing): the
            # instance's interface list never changes as groups come and go, so CloudFormation
            # never has to replace an instance whose interfaces are still attached.
            for number in range(interfaces_per_instance):
                on_interface = members[number * per_interface : (number + 1) * per_interface]
                interface = ec2.CfnNetworkInterface(
                    self,
                    f"Proxy{shard}Interface{number}",
                    subnet_id=subnet.subnet_id,
                    group_set=[self.security_group.security_group_id],
                    secondary_private_ip_address_count=len(on_interface) or None,
                    description=f"{name_prefix} client egress proxy {shard}, interface {number}",
                    tags=[CfnTag(key="Name", value=f"{name_prefix}-egress-proxy-{shard}-{number}")],
                )
                interfaces.append(interface)
                for slot, (index, group) in enumerate(on_interface):
                    private_ip = Fn.select(slot, interface.attr_secondary_private_ip_addresses)
                    public_ip = self._address(group, name_prefix, removal_policy, interface, private_ip)
                    shard_addresses.append((index, group, private_ip, public_ip))
            proxy_host = interfaces[0].attr_primary_private_ip_address
            for index, group, private_ip, public_ip in shard_addresses:
                port = options.first_port + index
                self.addresses.append(
                    EgressAddress(
                        group=group,
                        port=port,
                        private_ip=private_ip,
                        public_ip=public_ip,
                        proxy_url=f"http://{group.id}:@{proxy_host}:{port}",
                    )
                )
            self.instances.append(
                self._instance(
                    shard, interfaces, self.addresses[-len(shard_addresses) :], image_id, name_prefix
                )
            )

        for address in self.addresses:
            group = address.group
            description = f"Static IP of client group {group.id}: register it with the group's brokers"
            if group.eip_allocation_id is not None:
                description += f" (allocation {group.eip_allocation_id})"
            output = CfnOutput(
                self, f"Ip{group.output_name}", value=address.public_ip, description=description
            )
            # A stable name per group: it is what the group's clients register.
            output.override_logical_id(f"ClientEgressIp{group.output_name}")

    @property
    def proxy_urls(self) -> dict[str, str]:
        """group id -> the proxy URL its broker calls go through."""
        return {address.group.id: address.proxy_url for address in self.addresses}

    @property
    def public_ips(self) -> dict[str, str]:
        """group id -> the address its clients register (a token until deployed)."""
        return {address.group.id: address.public_ip for address in self.addresses}

    def document(self) -> str:
        """The `CLIENT_EGRESS` document (`shared_utils.brokers.egress.EgressDocument`)."""
        return Stack.of(self).to_json_string(self._document_body())

    def environment(self) -> dict[str, str]:
        """Environment of a broker-calling function: egress required, every group."""
        worst_case = {
            **self._document_body(),
            "groups": [
                {**group, "public_ip": "255.255.255.255", "proxy_url": _worst_url(group["group_id"])}
                for group in self._document_body()["groups"]
            ],
        }
        size = len(json.dumps(worst_case, separators=(",", ":")))
        if size > MAX_DOCUMENT_BYTES:
            raise ValueError(
                f"the client egress document may reach {size} bytes, too much for a Lambda "
                "environment (4 KB in all): publish it elsewhere (an SSM parameter) instead"
            )
        return {EGRESS_ENVIRONMENT_VARIABLE: self.document()}

    def _document_body(self) -> dict[str, Any]:
        return {
            "required": True,
            "groups": [
                {
                    "group_id": address.group.id,
                    "public_ip": address.public_ip,
                    "proxy_url": address.proxy_url,
                    "members": list(address.group.members),
                }
                for address in self.addresses
            ],
        }

    def _address(
        self,
        group: ClientEgressGroup,
        name_prefix: str,
        removal_policy: RemovalPolicy,
        interface: ec2.CfnNetworkInterface,
        private_ip: str,
    ) -> str:
        """Associate the group's Elastic IP (allocated here unless given) with its private IP."""
        if group.eip_allocation_id is not None and group.public_ip is not None:
            allocation_id, public_ip = group.eip_allocation_id, str(group.public_ip)
        else:
            eip = ec2.CfnEIP(
                self,
                f"Eip{group.output_name}",
                domain="vpc",
                tags=[
                    CfnTag(key="Name", value=f"{name_prefix}-egress-{group.id}"),
                    CfnTag(key="client-egress-group", value=group.id),
                ],
            )
            eip.apply_removal_policy(removal_policy)
            allocation_id, public_ip = eip.attr_allocation_id, eip.attr_public_ip
        ec2.CfnEIPAssociation(
            self,
            f"Association{group.output_name}",
            allocation_id=allocation_id,
            network_interface_id=interface.ref,
            private_ip_address=private_ip,
        )
        return public_ip

    def _instance(
        self,
        shard: int,
        interfaces: list[ec2.CfnNetworkInterface],
        addresses: list[EgressAddress],
        image_id: str,
        name_prefix: str,
    ) -> ec2.CfnInstance:
        config = {
            "listen": "0.0.0.0",
            "allowed_ports": [HTTPS],
            "connect_timeout_s": CONNECT_TIMEOUT_S,
            "groups": [
                {"group": address.group.id, "port": address.port, "public_ip": address.public_ip}
                for address in addresses
            ],
        }
        instance = ec2.CfnInstance(
            self,
            f"Proxy{shard}",
            image_id=image_id,
            instance_type=self.options.instance_type,
            network_interfaces=[
                ec2.CfnInstance.NetworkInterfaceProperty(
                    device_index=str(number),
                    network_interface_id=interface.ref,
                    delete_on_termination=False,
                )
                for number, interface in enumerate(interfaces)
            ],
            user_data=Fn.base64(proxy_user_data(Stack.of(self).to_json_string(config)).render()),
            metadata_options=ec2.CfnInstance.MetadataOptionsProperty(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            credit_specification=ec2.CfnInstance.CreditSpecificationProperty(cpu_credits="standard"),
            block_device_mappings=[
                ec2.CfnInstance.BlockDeviceMappingProperty(
                    device_name="/dev/xvda",
                    ebs=ec2.CfnInstance.EbsProperty(
                        volume_size=ROOT_VOLUME_GIB,
                        volume_type="gp3",
                        encrypted=True,
                        delete_on_termination=True,
                    ),
                )
            ],
            tags=[CfnTag(key="Name", value=f"{name_prefix}-egress-proxy-{shard}")],
        )
        # `resolve:ssm:` is EC2's own launch-time AMI lookup; cfn-lint and CDK's template
        # validation know only literal `ami-` ids.
        instance.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1152"]}})
        Validations.of(instance).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::E1152",
                reason="The image is resolve:ssm:, resolved by EC2 at launch, so a deploy never "
                "replaces a proxy (and its addresses' interfaces) for a newer Amazon Linux image.",
            ),
            Acknowledgment(
                id="AwsSolutions-EC28",
                reason="Basic monitoring covers a stateless forward proxy; per-minute detailed "
                "monitoring would cost about a client's monthly address charge for each instance.",
            ),
            Acknowledgment(
                id="AwsSolutions-EC29",
                reason="Terminating a proxy loses no client address: the network interfaces and "
                "Elastic IPs are separate resources (not deleted on termination), and the stack "
                "must be able to replace the instance without a manual unprotect step.",
            ),
        )
        return instance


def _worst_url(group_id: str) -> str:
    return f"http://{group_id}:@255.255.255.255:65535"


CLOUD_CONFIG = """#cloud-config
# Run the user-data script on every boot: a change of groups (CloudFormation stops and starts
# the instance for new user data) rewrites the proxy's configuration.
cloud_final_modules:
  - [scripts-user, always]
"""

SYSTEMD_UNIT = """[Unit]
Description=Client static-IP egress proxy
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/bin/python3 /opt/egress-proxy/proxy.py /etc/egress-proxy.json
Restart=always
RestartSec=2
DynamicUser=yes
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
"""


def proxy_user_data(config_json: str) -> ec2.MultipartUserData:
    """Cloud-init parts that install `PROXY_PROGRAM` with `config_json` as a systemd service."""
    script = ec2.UserData.for_linux()
    script.add_commands(
        "set -euo pipefail",
        "install -d -m 0755 /opt/egress-proxy",
        "cat > /opt/egress-proxy/proxy.py <<'EGRESS_PROXY_PY'",
        PROXY_PROGRAM.rstrip("\n"),
        "EGRESS_PROXY_PY",
        "cat > /etc/egress-proxy.json <<'EGRESS_PROXY_JSON'",
        config_json,
        "EGRESS_PROXY_JSON",
        "cat > /etc/systemd/system/egress-proxy.service <<'EGRESS_PROXY_UNIT'",
        SYSTEMD_UNIT.rstrip("\n"),
        "EGRESS_PROXY_UNIT",
        "chmod 0644 /opt/egress-proxy/proxy.py /etc/egress-proxy.json",
        "systemctl daemon-reload",
        "systemctl enable egress-proxy.service",
        "systemctl restart egress-proxy.service",
    )
    user_data = ec2.MultipartUserData()
    user_data.add_part(
        ec2.MultipartBody.from_raw_body(content_type='text/cloud-config; charset="utf-8"', body=CLOUD_CONFIG)
    )
    # Raw, not base64 in base64: EC2 takes 16 KB of user data before its own encoding.
    user_data.add_part(
        ec2.MultipartBody.from_raw_body(
            content_type='text/x-shellscript; charset="utf-8"', body=script.render()
        )
    )
    return user_data


# The proxy the instances run (Amazon Linux 2023's Python 3.9, standard library only). Kept
# free of newer syntax: tests/infra/test_egress.py parses it as 3.9 and runs it on loopback.
PROXY_PROGRAM = r'''"""Client static-IP egress proxy (installed by cdk_stack/egress.py).

One listening port per client group. A CONNECT to an allowed port is tunnelled from a socket
bound to the private address that carries the group's Elastic IP at that moment (read from the
instance metadata, IMDSv2, for every tunnel): the broker sees the group's address, or nothing.
Anything else is refused: another method (405), another group's name in Proxy-Authorization
(407), another port (403), an Elastic IP not on this instance or an address that cannot be
bound (502). No other address is ever used.
"""
import asyncio
import base64
import functools
import json
import logging
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

LOG = logging.getLogger("egress-proxy")
MACS = "/latest/meta-data/network/interfaces/macs/"


class Metadata:
    """IMDSv2: which private address an Elastic IP is associated with on this instance."""

    def __init__(self, base_url, timeout):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.lock = threading.Lock()
        self.token = None
        self.token_expires = 0.0

    def _token(self):
        with self.lock:
            if self.token is None or time.monotonic() > self.token_expires:
                request = urllib.request.Request(
                    self.base_url + "/latest/api/token",
                    method="PUT",
                    headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
                )
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    self.token = answer.read().decode()
                self.token_expires = time.monotonic() + 21000
            return self.token

    def _get(self, path):
        request = urllib.request.Request(
            self.base_url + path, headers={"X-aws-ec2-metadata-token": self._token()}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.read().decode()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def private_address(self, public_ip):
        for mac in (self._get(MACS) or "").split():
            mac = mac.strip("/")
            associated = self._get(MACS + mac + "/ipv4-associations/" + public_ip)
            if associated:
                return associated.split()[0]
        return None


async def _pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            pass


async def _answer(writer, status, extra=""):
    head = "HTTP/1.1 %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n" % (status, extra)
    writer.write(head.encode("ascii"))
    try:
        await writer.drain()
    except OSError:
        pass
    writer.close()


def _proxy_user(lines):
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "proxy-authorization":
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                return base64.b64decode(token.strip()).decode("utf-8").partition(":")[0]
            except ValueError:
                return None
    return None


async def _tunnel(group, metadata, reader, writer):
    peer = writer.get_extra_info("peername")
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), group["timeout"])
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    request = lines[0].split()
    if len(request) != 3 or request[0] != "CONNECT":
        LOG.warning("group=%s peer=%s refused: not a CONNECT", group["group"], peer)
        await _answer(writer, "405 Method Not Allowed")
        return
    user = _proxy_user(lines[1:])
    if user != group["group"]:
        LOG.warning("group=%s peer=%s refused: asked for group %r", group["group"], peer, user)
        challenge = 'Proxy-Authenticate: Basic realm="egress"\r\n'
        await _answer(writer, "407 Proxy Authentication Required", challenge)
        return
    host, _, port = request[1].rpartition(":")
    if not host or not port.isdigit() or int(port) not in group["ports"]:
        LOG.warning("group=%s peer=%s refused target %s", group["group"], peer, request[1])
        await _answer(writer, "403 Forbidden")
        return
    loop = asyncio.get_running_loop()
    try:
        source = await loop.run_in_executor(None, metadata.private_address, group["public_ip"])
    except (OSError, ValueError) as error:
        source = None
        LOG.error("group=%s instance metadata unavailable: %s", group["group"], error)
    if source is None:
        LOG.warning("group=%s refused: %s is not associated here", group["group"], group["public_ip"])
        await _answer(writer, "502 Bad Gateway")
        return
    try:
        upstream_reader, upstream_writer = await asyncio.wait_for(
            asyncio.open_connection(
                host.strip("[]"), int(port), family=socket.AF_INET, local_addr=(source, 0)
            ),
            group["timeout"],
        )
    except (OSError, asyncio.TimeoutError) as error:
        LOG.warning(
            "group=%s peer=%s target=%s not reached from %s: %s",
            group["group"], peer, request[1], source, error,
        )
        await _answer(writer, "502 Bad Gateway")
        return
    writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
    LOG.info("group=%s peer=%s target=%s source=%s", group["group"], peer, request[1], source)
    try:
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
    finally:
        upstream_writer.close()
        writer.close()


async def main(path):
    with open(path) as handle:
        config = json.load(handle)
    ports = frozenset(int(port) for port in config.get("allowed_ports", [443]))
    timeout = float(config.get("connect_timeout_s", 5))
    metadata = Metadata(config.get("metadata_url", "http://169.254.169.254"), timeout)
    servers = []
    for entry in config["groups"]:
        group = {
            "group": entry["group"],
            "public_ip": entry["public_ip"],
            "ports": ports,
            "timeout": timeout,
        }
        server = await asyncio.start_server(
            functools.partial(_tunnel, group, metadata),
            config.get("listen", "0.0.0.0"),
            int(entry["port"]),
        )
        servers.append(server)
        LOG.info("group=%s port=%s address=%s", entry["group"], entry["port"], entry["public_ip"])
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    asyncio.run(main(sys.argv[1]))
'''
