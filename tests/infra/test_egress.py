"""`ClientEgress` in a bare stack: one Elastic IP per client group, an output per group, proxies
that may only speak HTTPS out; and the proxy program the instances run, run here on loopback."""

from __future__ import annotations

import ast
import base64
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from pydantic import ValidationError

from cdk_stack.config import ClientEgressConfig, EnvironmentConfig, load_environment
from cdk_stack.egress import (
    INSTANCE_LIMITS,
    PROXY_PROGRAM,
    SYSTEMD_UNIT,
    ClientEgress,
    groups_per_instance,
    proxy_user_data,
)
from shared_utils.brokers.egress import EGRESS_ENVIRONMENT_VARIABLE, StaticEgressDirectory
from shared_utils.brokers.http import BrokerHttpSession
from shared_utils.brokers.port import BrokerError, BrokerUnavailableError
from tests.infra.conftest import deployed_config

pytestmark = pytest.mark.infra

ALLOCATED = "eipalloc-0123456789abcdef0"
GROUPS: list[dict[str, Any]] = [
    {"id": "client-a", "members": ["user-a"]},
    {"id": "family-b", "members": ["user-b", "user-b-spouse"]},
    {
        "id": "client-c",
        "members": ["user-c/zerodha-c"],
        "eip_allocation_id": ALLOCATED,
        "public_ip": "13.232.1.2",
    },
]


@dataclass
class Synth:
    egress: ClientEgress
    stack: Stack
    template: dict[str, Any]
    functions_sg: str
    violations: list[tuple[str, str]]
    outdir: Path

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def assertions(self) -> Template:
        return Template.from_json(self.template)


def _synth(tmp_path: Path, options: ClientEgressConfig) -> Synth:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Egress")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Nat", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(
                name="Functions", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22
            ),
        ],
    )
    functions = ec2.SecurityGroup(stack, "Functions", vpc=vpc, allow_all_outbound=False)
    egress = ClientEgress(
        stack, "ClientEgress", options=options, vpc=vpc, clients=functions, name_prefix="ql-test"
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with contextlib.suppress(RuntimeError):
        app.synth()  # fails on the bare VPC's missing flow log (VPC7): the construct's findings matter
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = [
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]
    template = json.loads((tmp_path / "Egress.template.json").read_text())
    functions_id = stack.get_logical_id(functions.node.default_child)  # type: ignore[arg-type]
    return Synth(egress, stack, template, functions_id, violations, tmp_path)


@pytest.fixture(scope="module")
def nano(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """t4g.nano holds two groups (two interfaces, one client address each): three groups make
    two instances, the first with two interfaces."""
    options = ClientEgressConfig.model_validate({"instance_type": "t4g.nano", "groups": GROUPS})
    return _synth(tmp_path_factory.mktemp("egress-nano"), options)


def test_one_elastic_ip_per_group_each_on_its_own_private_address(nano: Synth) -> None:
    eips = nano.of_type("AWS::EC2::EIP")
    associations = nano.of_type("AWS::EC2::EIPAssociation")
    interfaces = nano.of_type("AWS::EC2::NetworkInterface")
    # client-c brings an address allocated outside the stack: no new EIP for it.
    assert len(eips) == 2 and len(associations) == 3
    assert {eip["Properties"]["Domain"] for eip in eips.values()} == {"vpc"}
    assert {eip["DeletionPolicy"] for eip in eips.values()} == {"Retain"}
    groups = {
        tag["Value"]
        for eip in eips.values()
        for tag in eip["Properties"]["Tags"]
        if tag["Key"] == "client-egress-group"
    }
    assert groups == {"client-a", "family-b"}

    allocations, places = [], set()
    for association in associations.values():
        props = association["Properties"]
        allocation = props["AllocationId"]
        allocations.append(allocation if isinstance(allocation, str) else allocation["Fn::GetAtt"][0])
        interface = props["NetworkInterfaceId"]["Ref"]
        index, source = props["PrivateIpAddress"]["Fn::Select"]
        assert source == {"Fn::GetAtt": [interface, "SecondaryPrivateIpAddresses"]}
        places.add((interface, index))
    assert ALLOCATED in allocations and len(set(allocations)) == 3
    assert len(places) == 3  # no two groups share a private address
    # Every interface an instance takes exists from the start (the second of proxy 1 unused).
    counts = sorted(i["Properties"].get("SecondaryPrivateIpAddressCount", 0) for i in interfaces.values())
    assert counts == [0, 1, 1, 1]


def test_each_groups_address_is_an_output_to_register(nano: Synth) -> None:
    outputs = nano.template["Outputs"]
    assert {key for key in outputs if key.startswith("ClientEgressIp")} == {
        "ClientEgressIpClientA",
        "ClientEgressIpFamilyB",
        "ClientEgressIpClientC",
    }
    eip_a = outputs["ClientEgressIpClientA"]["Value"]["Fn::GetAtt"]
    assert eip_a[1] == "PublicIp" and nano.template["Resources"][eip_a[0]]["Type"] == "AWS::EC2::EIP"
    assert outputs["ClientEgressIpClientC"]["Value"] == "13.232.1.2"
    assert "register" in outputs["ClientEgressIpFamilyB"]["Description"]


def test_the_proxies_accept_only_the_functions_and_speak_only_https_out(nano: Synth) -> None:
    [(proxy_sg_id, proxy_sg)] = [
        (key, sg) for key, sg in nano.of_type("AWS::EC2::SecurityGroup").items() if "ClientEgress" in key
    ]
    assert proxy_sg["Properties"]["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to brokers",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    assert "SecurityGroupIngress" not in proxy_sg["Properties"]
    ingress = nano.of_type("AWS::EC2::SecurityGroupIngress")
    assert [rule["Properties"] for rule in ingress.values()] == [
        {
            "Description": "Broker calls to the proxy port of their client group",
            "FromPort": 8401,
            "GroupId": {"Fn::GetAtt": [proxy_sg_id, "GroupId"]},
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": {"Fn::GetAtt": [nano.functions_sg, "GroupId"]},
            "ToPort": 8403,
        }
    ]
    # The functions' own (closed) outbound side gets the same narrow opening, and nothing else.
    nano.assertions().has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {
            "GroupId": {"Fn::GetAtt": [nano.functions_sg, "GroupId"]},
            "DestinationSecurityGroupId": {"Fn::GetAtt": [proxy_sg_id, "GroupId"]},
            "FromPort": 8401,
            "ToPort": 8403,
        },
    )
    for interface in nano.of_type("AWS::EC2::NetworkInterface").values():
        assert interface["Properties"]["GroupSet"] == [{"Fn::GetAtt": [proxy_sg_id, "GroupId"]}]


def test_groups_fill_interfaces_then_instances(nano: Synth) -> None:
    instances = nano.of_type("AWS::EC2::Instance")
    assert len(instances) == 2
    attached = sorted(len(i["Properties"]["NetworkInterfaces"]) for i in instances.values())
    assert attached == [2, 2]
    for instance in instances.values():
        props = instance["Properties"]
        assert props["InstanceType"] == "t4g.nano"
        assert props["ImageId"].startswith("resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023")
        assert props["MetadataOptions"]["HttpTokens"] == "required"
        assert props["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
        assert props["CreditSpecification"] == {"CPUCredits": "standard"}
        assert "SecurityGroupIds" not in props and "SubnetId" not in props  # all on the interfaces
        for number, attachment in enumerate(props["NetworkInterfaces"]):
            assert attachment["DeviceIndex"] == str(number)
            assert attachment["DeleteOnTermination"] is False  # the addresses outlive an instance
        assert "E1152" in instance["Metadata"]["cfn-lint"]["config"]["ignore_checks"]


def test_a_small_instance_holds_nine_groups_on_three_interfaces(tmp_path: Path) -> None:
    groups = [{"id": f"client-{n}", "members": [f"user-{n}"]} for n in range(10)]
    synth = _synth(tmp_path, ClientEgressConfig.model_validate({"groups": groups}))
    instances = synth.of_type("AWS::EC2::Instance")
    assert groups_per_instance("t4g.small") == 9 and len(instances) == 2
    assert sorted(len(i["Properties"]["NetworkInterfaces"]) for i in instances.values()) == [3, 3]
    counts = sorted(
        i["Properties"].get("SecondaryPrivateIpAddressCount", 0)
        for i in synth.of_type("AWS::EC2::NetworkInterface").values()
    )
    assert counts == [0, 0, 1, 3, 3, 3]
    assert len(synth.of_type("AWS::EC2::EIP")) == 10


def test_adding_a_group_replaces_nothing_and_moves_no_address(tmp_path: Path) -> None:
    """What CloudFormation would replace (an instance's interfaces or image, an EIP) stays as it
    was when a group is appended; the existing groups keep their ports and addresses."""
    three = [{"id": f"client-{n}", "members": [f"user-{n}"]} for n in range(3)]
    before = _synth(tmp_path / "three", ClientEgressConfig.model_validate({"groups": three}))
    four = [*three, {"id": "client-3", "members": ["user-3"]}]
    after = _synth(tmp_path / "four", ClientEgressConfig.model_validate({"groups": four}))
    [(proxy_id, proxy_before)] = before.of_type("AWS::EC2::Instance").items()
    proxy_after = after.of_type("AWS::EC2::Instance")[proxy_id]["Properties"]
    for create_only in ("NetworkInterfaces", "ImageId", "InstanceType"):
        assert proxy_after[create_only] == proxy_before["Properties"][create_only], create_only
    assert set(before.of_type("AWS::EC2::EIP")) < set(after.of_type("AWS::EC2::EIP"))
    assert set(before.of_type("AWS::EC2::NetworkInterface")) == set(
        after.of_type("AWS::EC2::NetworkInterface")
    )
    ports_before = {a.group.id: a.port for a in before.egress.addresses}
    assert {a.group.id: a.port for a in after.egress.addresses if a.group.id in ports_before} == ports_before


def test_cdk_nag_finds_nothing_unacknowledged_in_the_construct(nano: Synth) -> None:
    assert [finding for finding in nano.violations if "/ClientEgress/" in finding[1]] == []


def test_cfn_lint_finds_no_error(nano: Synth) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--non-zero-exit-code",
            "error",
            str(nano.outdir / "Egress.template.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_published_document_matches_the_groups(nano: Synth) -> None:
    """The document the functions get resolves (once deployed) to what the runtime reads."""
    environment = nano.egress.environment()
    assert list(environment) == [EGRESS_ENVIRONMENT_VARIABLE]
    rendered = _render(nano.stack.resolve(environment[EGRESS_ENVIRONMENT_VARIABLE]), nano.template)
    directory = StaticEgressDirectory.from_json(rendered)
    assert directory.required is True
    a = directory.for_account("user-a", "any")
    spouse = directory.for_account("user-b-spouse", "any")
    c = directory.for_account("user-c", "zerodha-c")
    assert a is not None and spouse is not None and c is not None
    assert (a.group_id, spouse.group_id, c.group_id) == ("client-a", "family-b", "client-c")
    assert a.proxy_url.startswith("http://client-a:@10.") and a.proxy_url.endswith(":8401")
    assert str(c.public_ip) == "13.232.1.2" and c.proxy_url.endswith(":8403")
    assert directory.for_account("user-c", "angel-c") is None
    # Each group's address in the document is the address of its output.
    outputs = nano.template["Outputs"]
    assert str(a.public_ip) == _render(outputs["ClientEgressIpClientA"]["Value"], nano.template)


def _proxy_config(user_data: str) -> dict[str, Any]:
    return dict(
        json.loads(user_data.split("<<'EGRESS_PROXY_JSON'\n", 1)[1].split("\nEGRESS_PROXY_JSON", 1)[0])
    )


def test_the_instances_get_the_program_and_each_groups_port_and_address(nano: Synth) -> None:
    outputs = nano.template["Outputs"]
    expected = {
        "client-a": (8401, _render(outputs["ClientEgressIpClientA"]["Value"], nano.template)),
        "family-b": (8402, _render(outputs["ClientEgressIpFamilyB"]["Value"], nano.template)),
        "client-c": (8403, "13.232.1.2"),
    }
    configured = {}
    for instance in nano.of_type("AWS::EC2::Instance").values():
        user_data = _render(instance["Properties"]["UserData"]["Fn::Base64"], nano.template)
        assert "scripts-user, always" in user_data
        assert PROXY_PROGRAM.strip() in user_data and SYSTEMD_UNIT.strip() in user_data
        config = _proxy_config(user_data)
        assert config["allowed_ports"] == [443] and "metadata_url" not in config
        configured.update({group["group"]: (group["port"], group["public_ip"]) for group in config["groups"]})
    # Each proxy binds to whatever private address carries the group's own Elastic IP.
    assert configured == expected


def test_user_data_fits_ec2s_limit_at_full_capacity() -> None:
    """EC2 takes 16 KB of user data: the largest instance's configuration, 32-character ids."""
    largest = max(INSTANCE_LIMITS, key=groups_per_instance)
    config = {
        "listen": "0.0.0.0",
        "allowed_ports": [443],
        "connect_timeout_s": 5,
        "groups": [
            {"group": f"{n:02d}".ljust(32, "x"), "port": 60000 + n, "public_ip": "255.255.255.255"}
            for n in range(groups_per_instance(largest))
        ],
    }
    rendered = proxy_user_data(json.dumps(config)).render()
    assert len(rendered.encode()) < 16 * 1024
    assert all(marker not in PROXY_PROGRAM for marker in ("EGRESS_PROXY_PY", "AWS+CDK+User+Data"))


def test_a_lambda_environment_cannot_hold_too_many_groups(tmp_path: Path) -> None:
    groups = [{"id": f"client-{n:03d}", "members": [f"user-{n:03d}-0000-0000"]} for n in range(40)]
    options = ClientEgressConfig.model_validate({"instance_type": "t4g.xlarge", "groups": groups})
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Egress")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0)
    functions = ec2.SecurityGroup(stack, "Functions", vpc=vpc, allow_all_outbound=False)
    egress = ClientEgress(
        stack,
        "ClientEgress",
        options=options,
        vpc=vpc,
        clients=functions,
        name_prefix="ql-test",
        removal_policy=RemovalPolicy.DESTROY,
    )
    assert len(egress.public_ips) == 40
    with pytest.raises(ValueError, match="4 KB"):
        egress.environment()


def test_configuration_refuses_ambiguous_groups() -> None:
    with pytest.raises(ValidationError, match="one address each"):
        ClientEgressConfig.model_validate(
            {"groups": [{"id": "a", "members": ["u1"]}, {"id": "b", "members": ["u1"]}]}
        )
    with pytest.raises(ValidationError, match="twice"):
        ClientEgressConfig.model_validate(
            {"groups": [{"id": "a", "members": ["u1"]}, {"id": "a", "members": ["u2"]}]}
        )
    with pytest.raises(ValidationError, match="go together"):
        ClientEgressConfig.model_validate(
            {"groups": [{"id": "a", "members": ["u1"], "eip_allocation_id": ALLOCATED}]}
        )
    with pytest.raises(ValidationError):
        ClientEgressConfig.model_validate({"groups": [{"id": "Client A", "members": ["u1"]}]})
    dev = load_environment("dev")  # no egress VPC in dev
    assert dev.client_egress is None
    with pytest.raises(ValidationError, match=r"broker_egress_vpc\.enabled"):
        EnvironmentConfig.model_validate({**dev.model_dump(), "client_egress": {"groups": GROUPS[:1]}})
    staging = deployed_config("staging")
    configured = EnvironmentConfig.model_validate(
        {**staging.model_dump(), "client_egress": {"groups": GROUPS}}
    )
    assert configured.client_egress is not None and len(configured.client_egress.groups) == 3


# --- the proxy program, run here -----------------------------------------------------------


def test_the_program_is_python_3_9() -> None:
    """Amazon Linux 2023's system Python is 3.9."""
    ast.parse(PROXY_PROGRAM, feature_version=(3, 9))


class _WhoAmI(BaseHTTPRequestHandler):
    """Answers with the address the connection came from; remembers every connection."""

    peers: list[str] = []

    def handle(self) -> None:
        type(self).peers.append(self.client_address[0])
        super().handle()

    def do_GET(self) -> None:
        body = self.client_address[0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


MACS = "/latest/meta-data/network/interfaces/macs/"


class _FakeMetadata(BaseHTTPRequestHandler):
    """IMDSv2 as the proxy uses it: a token, two interfaces, Elastic IP -> private address
    associations (all on the second interface, so the proxy has to look through both)."""

    token = "fake-imds-token"
    associations: dict[str, str] = {}
    macs = ("0a:00:00:00:00:01", "0a:00:00:00:00:02")

    def _send(self, status: int, body: str = "") -> None:
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_PUT(self) -> None:
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if self.path == "/latest/api/token" and ttl:
            self._send(200, self.token)
        else:
            self._send(400)

    def do_GET(self) -> None:
        if self.headers.get("X-aws-ec2-metadata-token") != self.token:
            self._send(401)
        elif self.path == MACS:
            self._send(200, "\n".join(f"{mac}/" for mac in self.macs))
        elif self.path.startswith(MACS) and "/ipv4-associations/" in self.path:
            mac, public_ip = self.path.removeprefix(MACS).split("/ipv4-associations/")
            private = self.associations.get(public_ip)
            if private and mac == self.macs[1]:
                self._send(200, private)
            else:
                self._send(404)
        else:
            self._send(404)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


# Documentation addresses stand in for the groups' Elastic IPs.
PUBLIC = {"client-a": "198.51.100.2", "family-b": "198.51.100.3", "not-here": "198.51.100.9"}


@dataclass
class RunningProxy:
    ports: dict[str, int]
    target_port: int
    peers: list[str]
    associations: dict[str, str]


@pytest.fixture
def running_proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    _WhoAmI.peers = []
    _FakeMetadata.associations = {PUBLIC["client-a"]: "127.0.0.2", PUBLIC["family-b"]: "127.0.0.3"}
    target, metadata = _serve(_WhoAmI), _serve(_FakeMetadata)
    target_port = int(target.server_address[1])
    ports = {group: _free_port() for group in PUBLIC}
    config = {
        "listen": "127.0.0.1",
        "allowed_ports": [target_port],
        "connect_timeout_s": 2,
        "metadata_url": f"http://127.0.0.1:{metadata.server_address[1]}",
        "groups": [{"group": g, "port": ports[g], "public_ip": PUBLIC[g]} for g in ports],
    }
    (tmp_path / "proxy.py").write_text(PROXY_PROGRAM)
    (tmp_path / "proxy.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "proxy.py"), str(tmp_path / "proxy.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        for port in ports.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert process.poll() is None, process.stderr.read() if process.stderr else ""
                    assert time.monotonic() < deadline, "the proxy did not start"
                    time.sleep(0.05)
        yield RunningProxy(ports, target_port, _WhoAmI.peers, _FakeMetadata.associations)
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server in (target, metadata):
            server.shutdown()
            server.server_close()


def _ask(port: int, request_line: str, group: str | None) -> tuple[str, socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    auth = ""
    if group is not None:
        auth = f"Proxy-Authorization: Basic {base64.b64encode(f'{group}:'.encode()).decode()}\r\n"
    sock.sendall(f"{request_line}\r\nHost: x\r\n{auth}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1024)
        if not chunk:
            break
        head += chunk
    return head.split(b"\r\n", 1)[0].decode(), sock


def _status(port: int, request_line: str, group: str | None) -> str:
    status, sock = _ask(port, request_line, group)
    sock.close()
    return status.split(" ", 2)[1]


def _whoami(running_proxy: RunningProxy, group: str) -> str:
    status, sock = _ask(
        running_proxy.ports[group], f"CONNECT 127.0.0.1:{running_proxy.target_port} HTTP/1.1", group
    )
    with sock:
        assert status.startswith("HTTP/1.1 200"), status
        sock.sendall(b"GET / HTTP/1.0\r\nHost: broker\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer.rsplit(b"\r\n\r\n", 1)[1].decode()


def test_each_groups_port_tunnels_from_the_address_of_its_elastic_ip(running_proxy: RunningProxy) -> None:
    assert {group: _whoami(running_proxy, group) for group in ("client-a", "family-b")} == {
        "client-a": "127.0.0.2",
        "family-b": "127.0.0.3",
    }
    # The association moves (a deploy re-associated the address): the next tunnel follows it.
    running_proxy.associations[PUBLIC["client-a"]] = "127.0.0.4"
    assert _whoami(running_proxy, "client-a") == "127.0.0.4"


def test_everything_else_is_refused_and_nothing_leaves(running_proxy: RunningProxy) -> None:
    port_a, target = running_proxy.ports["client-a"], running_proxy.target_port
    assert _status(port_a, f"CONNECT 127.0.0.1:{target} HTTP/1.1", "family-b") == "407"  # another group
    assert _status(port_a, f"CONNECT 127.0.0.1:{target} HTTP/1.1", None) == "407"
    assert _status(port_a, f"CONNECT 127.0.0.1:{_free_port()} HTTP/1.1", "client-a") == "403"  # not 443
    assert _status(port_a, f"GET http://127.0.0.1:{target}/ HTTP/1.1", "client-a") == "405"  # plain HTTP
    # A group whose Elastic IP is not on this instance is refused, not sent from another address;
    # so is one whose private address is not on the machine.
    port_gone = running_proxy.ports["not-here"]
    assert _status(port_gone, f"CONNECT 127.0.0.1:{target} HTTP/1.1", "not-here") == "502"
    running_proxy.associations[PUBLIC["not-here"]] = "192.0.2.1"  # TEST-NET-1: not local
    assert _status(port_gone, f"CONNECT 127.0.0.1:{target} HTTP/1.1", "not-here") == "502"
    assert running_proxy.peers == []


def test_a_broker_session_names_its_group_to_the_proxy(running_proxy: RunningProxy) -> None:
    """`http://group:@host:port` (the stack's proxy URLs) makes requests send the group."""
    port_a, target = running_proxy.ports["client-a"], running_proxy.target_port
    session = BrokerHttpSession("zerodha", timeout_s=2.0, proxy_url=f"http://client-a:@127.0.0.1:{port_a}")
    with pytest.raises(BrokerError):  # the target speaks no TLS: the tunnel itself is the point
        session.get(f"https://127.0.0.1:{target}/")
    assert running_proxy.peers == ["127.0.0.2"]
    wrong = BrokerHttpSession("zerodha", timeout_s=2.0, proxy_url=f"http://family-b:@127.0.0.1:{port_a}")
    with pytest.raises(BrokerUnavailableError) as raised:
        wrong.get(f"https://127.0.0.1:{target}/")
    assert raised.value.order_may_exist is False
    assert running_proxy.peers == ["127.0.0.2"]


# --- rendering CloudFormation values with stand-in addresses -------------------------------


def _render(value: Any, template: dict[str, Any]) -> str:
    """Evaluate Fn::Join / Fn::GetAtt / Fn::Select / Fn::Base64 / Ref with fake addresses: a
    public IP 13.232.0.n per EIP and private addresses 10.0.n.x per interface."""
    resources = list(template["Resources"])

    def number(logical_id: str) -> int:
        return resources.index(logical_id) + 1

    def evaluate(node: Any) -> Any:
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            return [evaluate(item) for item in node]
        ((function, argument),) = node.items()
        if function == "Fn::Join":
            return argument[0].join(str(evaluate(part)) for part in argument[1])
        if function == "Fn::Base64":
            return evaluate(argument)
        if function == "Fn::Select":
            return evaluate(argument[1])[int(argument[0])]
        if function == "Fn::GetAtt":
            logical_id, attribute = argument
            if attribute == "PublicIp":
                return f"13.232.0.{number(logical_id)}"
            if attribute == "PrimaryPrivateIpAddress":
                return f"10.0.{number(logical_id)}.10"
            if attribute == "SecondaryPrivateIpAddresses":
                return [f"10.0.{number(logical_id)}.{20 + n}" for n in range(20)]
            return f"{logical_id}.{attribute}"
        if function == "Ref":
            return argument
        raise AssertionError(f"cannot render {function}")

    return str(evaluate(value))
