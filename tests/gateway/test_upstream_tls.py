"""Upstream TLS trust (``MCP_UPSTREAM_CA_BUNDLE``): a private CA generated here signs the
certificate of a loopback TLS server, as an on-premise upstream's would be. The gateway's
upstream client (``upstream.new_async_client``) refuses it by default, accepts it once the
CA's PEM is configured (public CAs still trusted), uses the system store through truststore
on ``system``, and refuses to start with a bundle it cannot read."""

from __future__ import annotations

import datetime
import ipaddress
import ssl

import certifi
import pytest
import truststore

from apps.gateway import upstream
from apps.gateway.transport import TransportError, upstream_ssl_context
from tests.gateway.test_transport import Server, get, keep_answering, run

NAME = "api.onprem.test"


def private_ca(tmp_path):
    """A CA certificate (PEM at ``ca.pem``) and a server context whose certificate it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MCPForge test private CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server-key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    return ca_path, server_context


def call_through_gateway_client(server_context, name: str = NAME):
    """One GET through ``upstream.new_async_client()`` (built from the settings of the moment)."""
    async def main():
        server = Server(keep_answering, ssl_context=server_context)
        async with server.running():
            pool = upstream.new_async_client()
            try:
                return await get(server, pool, scheme="https", name=name)
            finally:
                await pool.aclose()
    return run(main())


def test_a_private_ca_is_refused_by_default_and_trusted_once_configured(tmp_path, settings):
    ca_path, server_context = private_ca(tmp_path)

    settings.MCP_UPSTREAM_CA_BUNDLE = ""
    with pytest.raises(TransportError, match="TLS"):
        call_through_gateway_client(server_context)

    settings.MCP_UPSTREAM_CA_BUNDLE = str(ca_path)
    assert call_through_gateway_client(server_context).status_code == 200
    # verification stays on: the private CA does not make another host name acceptable
    with pytest.raises(TransportError, match="TLS"):
        call_through_gateway_client(server_context, name="other.onprem.test")
    # public CAs are still trusted next to the private one
    public = ssl.create_default_context(cafile=certifi.where()).get_ca_certs()
    assert len(upstream_ssl_context(str(ca_path)).get_ca_certs()) == len(public) + 1


def test_a_directory_of_hashed_cas_is_accepted(tmp_path, settings):
    ca_path, server_context = private_ca(tmp_path)
    import subprocess

    directory = tmp_path / "cas"
    directory.mkdir()
    (directory / "private-ca.pem").write_bytes(ca_path.read_bytes())
    subprocess.run(["openssl", "rehash", str(directory)], check=True, capture_output=True)
    settings.MCP_UPSTREAM_CA_BUNDLE = str(directory)
    assert call_through_gateway_client(server_context).status_code == 200


def test_system_store_uses_truststore_and_does_not_know_the_private_ca(tmp_path, settings):
    _, server_context = private_ca(tmp_path)
    settings.MCP_UPSTREAM_CA_BUNDLE = "system"
    assert isinstance(upstream_ssl_context("system"), truststore.SSLContext)
    with pytest.raises(TransportError, match="TLS"):
        call_through_gateway_client(server_context)


@pytest.mark.parametrize("bad", ["missing.pem", "empty.pem", "garbage.pem"])
def test_an_unusable_bundle_stops_the_client_from_being_built(tmp_path, settings, bad):
    (tmp_path / "empty.pem").write_text("")
    (tmp_path / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    settings.MCP_UPSTREAM_CA_BUNDLE = str(tmp_path / bad)
    with pytest.raises(ValueError, match="MCP_UPSTREAM_CA_BUNDLE"):
        upstream.new_async_client()
