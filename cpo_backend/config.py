"""Settings: a TOML file overridden by ``CPO_<SECTION>__<KEY>`` environment variables.

Every key is documented in ``config.example.toml``; the defaults here make
``cpo-backend serve`` run with no file at all on an embedded SQLite database.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cpo_backend.pricing.afir import DEFAULT_ALT_TEXT_LANGUAGES, GENERATED_LANGUAGES


class UnknownStationPolicy(StrEnum):
    """What a charge point that the operator never registered gets at the handshake."""

    ACCEPT = "accept"
    PENDING = "pending"
    REJECT = "reject"


class DatabaseSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///cpo-backend.db"
    # Writes are grouped into one transaction per batch; a batch closes when it is
    # this large or when the writer has nothing else queued.
    max_batch: int = Field(default=500, ge=1)
    echo: bool = False


class OcppSettings(BaseModel):
    host: str = "0.0.0.0"
    port: int = Field(default=9000, ge=0, le=65535)
    path_prefix: str = "/ocpp"
    unknown_stations: UnknownStationPolicy = UnknownStationPolicy.ACCEPT
    heartbeat_interval: int = Field(default=300, ge=1)
    # How long a Pending boot is told to wait before booting again.
    pending_retry_interval: int = Field(default=60, ge=1)
    ping_interval: float | None = Field(default=60.0, gt=0)
    ping_timeout: float | None = Field(default=30.0, gt=0)
    max_message_size: int = Field(default=65536, ge=1024)
    # permessage-deflate costs every connection its own zlib buffers: off unless needed.
    compression: bool = False
    # A charge point answering a command slower than this is reported as a timeout.
    response_timeout: float = Field(default=30.0, gt=0)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Persist every frame in the per-station message log (queryable through the API).
    log_messages: bool = True
    # Frames older than this many days leave the message log (checked hourly); 0 keeps all.
    message_log_retention_days: int = Field(default=30, ge=0)


class HttpSettings(BaseModel):
    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=0, le=65535)
    # An empty list leaves the operator API open: only for a laptop.
    api_keys: list[str] = Field(default_factory=list)


class OcpiBusinessDetails(BaseModel):
    name: str = "cpo-backend"
    website: str | None = None


def _written_languages(languages: list[str]) -> list[str]:
    """Only languages the AFIR price text is written in: refused at start, not on a push."""
    unknown = sorted({lang.lower() for lang in languages} - GENERATED_LANGUAGES)
    if unknown:
        raise ValueError(
            f"no generated price text in {unknown}; available: {sorted(GENERATED_LANGUAGES)}"
        )
    return [lang.lower() for lang in languages]


class OcpiSettings(BaseModel):
    """Our OCPI identity as a CPO, and how we talk to roaming partners."""

    country_code: str = Field(default="NL", pattern=r"^[A-Z]{2}$")
    party_id: str = Field(default="CPO", pattern=r"^[A-Z0-9]{3}$")
    business_details: OcpiBusinessDetails = Field(default_factory=OcpiBusinessDetails)
    # Base URL partners reach us at (``https://cpo.example.com``); the OCPI API lives under
    # ``<public_url>/ocpi``. None: the URL of the HTTP listener itself.
    public_url: str | None = None
    # Most objects one page of a GET list returns (X-Limit).
    page_limit: int = Field(default=100, ge=1, le=1000)
    # Seconds a partner has to answer one of our requests.
    request_timeout: float = Field(default=10.0, gt=0)
    # Seconds an eMSP has to answer a real-time authorization before offline rules apply
    # (the charger is waiting for its Authorize answer meanwhile).
    authorize_timeout: float = Field(default=5.0, gt=0)
    # A token no partner pushed: ask every eMSP (and hub) in real time, and keep the token
    # of the one that allows it. Off: such tokens are unknown (Invalid).
    authorize_unknown_tokens: bool = False
    # Sessions: kwh updates are pushed at most this often (seconds) while charging.
    session_update_interval: float = Field(default=60.0, ge=0)
    # Seconds a CDR waits after we closed a transaction on an estimate (the station
    # rebooted, a new transaction superseded it, the operator force closed it) before it
    # is sealed: a charger's late real stop usually arrives within minutes, and then goes
    # into the first CDR. Later corrections are a Credit CDR and a new CDR.
    cdr_estimate_grace: float = Field(default=300.0, ge=0)
    # The same for partners on OCPI 2.1.1, which has no Credit CDR: a CDR sealed from an
    # estimate can never be corrected there, so it waits for the real stop much longer
    # (a charger keeps its queued stop through a day offline).
    cdr_estimate_grace_211: float = Field(default=86400.0, ge=0)
    # Currency of sessions and CDRs whose connector has no tariff.
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    # Languages of the price text every published tariff carries (tariff_alt_text, EU
    # AFIR): the operator's own text in a language is kept, a missing one is generated from
    # the tariff's prices. At least one: a tariff without a text is what AFIR forbids.
    tariff_alt_text_languages: Annotated[
        list[str], Field(min_length=1), AfterValidator(_written_languages)
    ] = Field(default_factory=lambda: list(DEFAULT_ALT_TEXT_LANGUAGES))
    # Outbox delivery: first retry after base seconds, doubling up to max (each wait
    # drawn between half of that and all of it).
    outbox_base_backoff: float = Field(default=1.0, gt=0)
    outbox_max_backoff: float = Field(default=600.0, gt=0)
    # Permanent rejections of one push (HTTP 4xx but 408/429, OCPI 2xxx) before it is a
    # dead letter: it then stops holding back the later pushes of its object.
    outbox_dead_letter_attempts: int = Field(default=3, ge=1)
    # Seconds between two looks at the outbox when nothing woke the worker.
    outbox_poll_interval: float = Field(default=1.0, gt=0)


class LoggingSettings(BaseModel):
    level: str = "INFO"
    json_output: bool = False
    # Id tokens identify drivers: replace them by a fixed mask in logs and the message log.
    redact_id_tokens: bool = False


class Settings(BaseSettings):
    """All settings of one back-end process."""

    model_config = SettingsConfigDict(
        env_prefix="CPO_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    ocpp: OcppSettings = Field(default_factory=OcppSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    ocpi: OcpiSettings = Field(default_factory=OcpiSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _toml_file_for_loading
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# pydantic-settings resolves sources at class level; load_settings sets the file for
# the duration of one construction.
_toml_file_for_loading: Path | None = None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from ``config_file`` (if any), then the environment, then overrides."""
    global _toml_file_for_loading
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    _toml_file_for_loading = config_file
    try:
        return Settings(**overrides)
    finally:
        _toml_file_for_loading = None
