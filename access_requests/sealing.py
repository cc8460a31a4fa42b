"""The portal's seal on executed data-access agreements: a PAdES signature made with its own certificate
(pyHanko), and the check that a file still carries it untouched. Nothing here reaches the network.

Sealing is a certification signature that allows no change afterwards (DocMDP "no changes").
Reading is strict, because pyHanko's own verdict is not enough to call a file untampered (an
incremental update that only changes metadata still reads as valid): a file passes only with
exactly one signature that is intact, valid and trusted (from the configured trust roots only),
covers the entire file, respects "no changes", and was made by one of the configured seal
certificates. Any exception while reading or validating is a failure, never a pass.

Settings: AGREEMENT_SEAL_KEY, AGREEMENT_SEAL_CERT, AGREEMENT_SEAL_PASSPHRASE,
AGREEMENT_SEAL_TRUST_ROOTS, AGREEMENT_SEAL_PREVIOUS_CERTS (portal/settings.py says what each is).
"""

import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

SEAL_FIELD = "PortalSeal"
# pyHanko logs whole tracebacks when it meets a suspicious modification; they are the file's fault,
# reported by `seal_check`, not the portal's: keep them out of the error log.
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)


def _outside_event_loop(function, *args, **kwargs):
    """Call one of pyHanko's synchronous functions, which run their own event loop (asyncio.run): in a
    helper thread when this thread already runs a loop (an async server, or a test session driving a
    browser), where asyncio.run would refuse."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


class SealUnavailable(Exception):
    """The seal key or certificate cannot be read: configuration, not the agreement, is at fault."""


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SealUnavailable(
            f"The agreement seal's {what} cannot be read from {path} ({exc.strerror}). "
            "Create a development one with `manage.py agreement_dev_certificate`, or set the "
            "AGREEMENT_SEAL_* settings."
        ) from exc


def _certificates(pem: bytes) -> list:
    from cryptography import x509

    return x509.load_pem_x509_certificates(pem)


def _asn1(certificate):
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def seal_fingerprints() -> set[str]:
    """SHA-256 fingerprints (hex) of the seal certificates whose seals are accepted: the current one
    and any listed in AGREEMENT_SEAL_PREVIOUS_CERTS."""
    from cryptography.hazmat.primitives.serialization import Encoding

    found = set()
    for path in [settings.AGREEMENT_SEAL_CERT, *settings.AGREEMENT_SEAL_PREVIOUS_CERTS]:
        for certificate in _certificates(_read(path, "certificate")):
            found.add(hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest())
            break  # the first certificate of a file is the seal's; any others are its chain
    return found


def _signer():
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    passphrase = settings.AGREEMENT_SEAL_PASSPHRASE.encode() or None
    try:
        key = serialization.load_pem_private_key(_read(settings.AGREEMENT_SEAL_KEY, "key"), password=passphrase)
    except (ValueError, TypeError) as exc:
        raise SealUnavailable(f"The agreement seal's key cannot be opened: {exc}") from exc
    from asn1crypto import keys as asn1_keys

    key_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain = _certificates(_read(settings.AGREEMENT_SEAL_CERT, "certificate"))
    roots = _certificates(_read(settings.AGREEMENT_SEAL_TRUST_ROOTS, "trust roots"))
    signer = signers.SimpleSigner(
        signing_cert=_asn1(chain[0]),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in chain[1:] + roots]),
    )
    if signer is None:  # pragma: no cover - pyHanko's loaders answer None instead of raising
        raise SealUnavailable("The agreement seal could not be loaded.")
    return signer


def seal_dev_ensure() -> bool:
    """In development and the demo only (DEBUG or PORTAL_PROFILE=demo), with the seal settings left at
    their defaults under VAR_DIR: create the development seal on first use. Production never gets a key
    made for it: there the settings name the real one, and a missing file is an error. Answers whether
    it created one."""
    if not (settings.DEBUG or settings.DEMO):
        return False
    folder = Path(settings.AGREEMENT_SEAL_DIR)
    defaults = {
        settings.AGREEMENT_SEAL_KEY: folder / "seal-key.pem",
        settings.AGREEMENT_SEAL_CERT: folder / "seal-cert.pem",
        settings.AGREEMENT_SEAL_TRUST_ROOTS: folder / "ca-cert.pem",
    }
    if any(Path(path) != default for path, default in defaults.items()) or Path(settings.AGREEMENT_SEAL_CERT).exists():
        return False
    try:
        dev_certificate_create(folder)
    except FileExistsError:  # another process made it meanwhile
        return False
    logger.warning("agreements: created a development seal in %s (never use it in production)", folder)
    return True


def seal_pdf(content: bytes, *, reason: str, location: str = "") -> bytes:
    """`content` sealed: a PAdES B-B certification signature that allows no later change."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        reason=reason,
        location=location or None,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    seal_dev_ensure()
    writer = IncrementalPdfFileWriter(io.BytesIO(content), strict=False)
    output = _outside_event_loop(signers.sign_pdf, writer, meta, signer=_signer())
    return output.getvalue()


@dataclass
class SealReport:
    """What `seal_check` found: `ok` only when every check passed; `checks` says what was checked."""

    ok: bool = False
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    signer: str = ""
    signed_at: datetime | None = None
    certificate_sha256: str = ""

    def add(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append((name, passed, detail))
        return passed

    @property
    def failure(self) -> str:
        failed = [f"{name}: {detail}" if detail else name for name, passed, detail in self.checks if not passed]
        return "; ".join(failed)


def seal_check(content: bytes) -> SealReport:
    """Check the seal of `content` under the strict rule of this module's docstring."""
    report = SealReport()
    try:
        _seal_check(content, report)
    except SealUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - a hostile or damaged file must read as a failure, never a crash
        report.add("The file can be read and validated", False, f"{type(exc).__name__}: {exc}"[:300])
    report.ok = bool(report.checks) and all(passed for _, passed, _ in report.checks)
    return report


def _seal_check(content: bytes, report: SealReport) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    roots = [_asn1(c) for c in _certificates(_read(settings.AGREEMENT_SEAL_TRUST_ROOTS, "trust roots"))]
    accepted = seal_fingerprints()
    reader = PdfFileReader(io.BytesIO(content), strict=False)
    signatures = reader.embedded_signatures
    if not report.add("Exactly one signature (the portal's seal)", len(signatures) == 1, f"found {len(signatures)}"):
        return
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    status = _outside_event_loop(validate_pdf_signature, signatures[0], context)
    report.add("The sealed bytes are intact (digest matches)", bool(status.intact))
    report.add("The signature is cryptographically valid", bool(status.valid))
    report.add("The certificate chains to the portal's trust root", bool(status.trusted))
    report.add(
        "The seal covers the entire file (nothing added after it)",
        status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        "" if status.coverage == SignatureCoverageLevel.ENTIRE_FILE else f"coverage {status.coverage.name}",
    )
    level = status.modification_level
    report.add(
        "No modification after the seal",
        bool(status.docmdp_ok) and (level is None or level == ModificationLevel.NONE),
        "" if level is None else f"modification level {level.name}",
    )
    certificate = status.signing_cert
    fingerprint = hashlib.sha256(certificate.dump()).hexdigest() if certificate is not None else ""
    report.certificate_sha256 = fingerprint
    report.signer = certificate.subject.human_friendly if certificate is not None else ""
    report.signed_at = status.signer_reported_dt
    report.add(
        "Sealed by the portal's seal certificate", fingerprint in accepted, f"certificate SHA-256 {fingerprint[:16]}…"
    )


def dev_certificate_create(folder: Path, *, days: int = 3 * 365, overwrite: bool = False) -> dict[str, Path]:
    """Write a development seal: a small CA (ca-cert.pem, ca-key.pem) and a seal certificate it issued
    (seal-cert.pem, seal-key.pem; EC P-256; key usage digitalSignature and nonRepudiation, which the
    validator requires of a certificate issued by a CA). Keys are written readable by the owner only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    paths = {name: folder / f"{name}.pem" for name in ("ca-cert", "ca-key", "seal-cert", "seal-key")}
    if not overwrite and any(path.exists() for path in paths.values()):
        raise FileExistsError(f"A development seal already exists in {folder}.")
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    site = settings.SITE_NAME

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{site} (development)"),
            ]
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"{site} development seal authority")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    seal_key = ec.generate_private_key(ec.SECP256R1())
    seal_cert = (
        x509.CertificateBuilder()
        .subject_name(name(f"{site} agreement seal"))
        .issuer_name(ca_name)
        .public_key(seal_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(seal_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM

    def key_bytes(key) -> bytes:
        return key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    for path, data, private in (
        (paths["ca-cert"], ca_cert.public_bytes(pem), False),
        (paths["ca-key"], key_bytes(ca_key), True),
        (paths["seal-cert"], seal_cert.public_bytes(pem) + ca_cert.public_bytes(pem), False),
        (paths["seal-key"], key_bytes(seal_key), True),
    ):
        path.write_bytes(data)
        path.chmod(0o600 if private else 0o644)
    return paths
