"""``linli demo``: load the Pingyin county slice, grids for 榆山街道, one demo account per
persona and a synthetic register of ``--scale`` people (``--seed`` makes it reproducible).
Idempotent: a second run changes nothing (``--reset-passwords`` resets the demo passwords of
existing demo accounts; communities that already hold people are left as they are)."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone, translation

from linli.accounts import services as accounts
from linli.accounts.choices import BuiltinRole
from linli.accounts.models import PasswordHistory, Role, RoleAssignment, User
from linli.assessment import demo as assessment_demo
from linli.audit import services as audit
from linli.audit.choices import AuditAction
from linli.events import demo as events_demo
from linli.regions import services as regions
from linli.regions.choices import RegionLevel
from linli.regions.models import RegionNode
from linli.registry import synthetic as synthetic_county
from linli.utilities import synthetic

# Printed with every run: anyone reading this file knows it, so it is for demos only.
DEMO_PASSWORD = "Demo-Linli-2026!"
COUNTY = "370124"  # 平阴县
SUBDISTRICT = "370124001"  # 榆山街道
COMMUNITY_JINYUAN = "370124001022"  # 锦源社区
COMMUNITY_JINDONG = "370124001018"  # 锦东社区
GRIDS_PER_COMMUNITY = 3
GRID_WORKER_REGION = "grid:" + COMMUNITY_JINYUAN  # the first grid of 锦源社区


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    region: str


# The administrators come first: the system administrator creates the other accounts and the
# security administrator grants their roles, as they would in a real installation.
ADMINISTRATORS = (
    DemoAccount("sysadmin", BuiltinRole.SYSTEM_ADMIN, COUNTY),
    DemoAccount("secadmin", BuiltinRole.SECURITY_ADMIN, COUNTY),
)
ACCOUNTS = (
    DemoAccount("auditadmin", BuiltinRole.AUDIT_ADMIN, COUNTY),
    DemoAccount("county_op", BuiltinRole.COUNTY_OPERATOR, COUNTY),
    DemoAccount("yushan_mgr", BuiltinRole.SUBDISTRICT_MANAGER, SUBDISTRICT),
    DemoAccount("jinyuan_worker", BuiltinRole.COMMUNITY_WORKER, COMMUNITY_JINYUAN),
    DemoAccount("jindong_worker", BuiltinRole.COMMUNITY_WORKER, COMMUNITY_JINDONG),
    DemoAccount("jinyuan_property", BuiltinRole.PROPERTY_STAFF, COMMUNITY_JINYUAN),
    DemoAccount("dept_handler", BuiltinRole.DEPARTMENT_HANDLER, COUNTY),
    DemoAccount("jinyuan_resident", BuiltinRole.RESIDENT, COMMUNITY_JINYUAN),
)
GRID_ACCOUNTS = (DemoAccount("jinyuan_grid1", BuiltinRole.GRID_WORKER, GRID_WORKER_REGION),)
ALL_ACCOUNTS = ADMINISTRATORS + ACCOUNTS + GRID_ACCOUNTS


def _bootstrap_administrator_directly(
    spec: DemoAccount, region: RegionNode, rng: random.Random
) -> User:
    """The two administrators who create and empower everyone else have nobody to do that for
    them, so they alone are written straight to the database (and audited as such)."""
    user = User.objects.filter(username=spec.username).first()
    if user is None:
        user = User(
            username=spec.username,
            display_name=synthetic.make_chinese_name(rng),
            phone=synthetic.make_mobile(rng),
            home_region=region,
            must_change_password=False,
            password_changed_at=timezone.now(),
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        PasswordHistory.objects.create(user=user, password=user.password)
        audit.record(AuditAction.CREATE, user, actor_name="system", note="demo bootstrap")
    role = Role.objects.get(code=spec.role)
    _, created = RoleAssignment.objects.get_or_create(user=user, role=role, region=region)
    if created:
        audit.record(
            AuditAction.GRANT,
            user,
            actor_name="system",
            changes={"role": role.code, "region": region.code},
            region_code=region.code,
            note="demo bootstrap",
        )
    return user


def _force_demo_password(user: User) -> None:
    """``--reset-passwords`` only: the demo password may be in the account's password history,
    which the password-change service rightly refuses, so it is set here and audited."""
    user.set_password(DEMO_PASSWORD)
    user.must_change_password = False
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "must_change_password", "password_changed_at"])
    audit.record(AuditAction.PASSWORD_RESET, user, actor_name="system", note="demo password")


def _ensure_account(
    spec: DemoAccount, region: RegionNode, admin: User, security: User, rng: random.Random
) -> tuple[User, bool]:
    user = User.objects.filter(username=spec.username).first()
    created = user is None
    if user is None:
        user, initial = accounts.create_user(
            admin,
            username=spec.username,
            display_name=synthetic.make_chinese_name(rng),
            home_region=region,
            phone=synthetic.make_mobile(rng),
        )
        # The one-time password is replaced at once, so the demo logins work without a detour.
        accounts.change_password(user, initial, DEMO_PASSWORD)
    accounts.grant_role(security, user, Role.objects.get(code=spec.role), region)
    return user, created


def _ensure_grids(actor: User) -> int:
    """A few grids per 榆山街道 community, named like 锦源社区第1网格."""
    created = 0
    communities = RegionNode.objects.filter(
        parent__code=SUBDISTRICT, level=RegionLevel.COMMUNITY, retired_at__isnull=True
    ).order_by("code")
    for community in communities:
        existing = set(community.children.values_list("name", flat=True))
        for number in range(1, GRIDS_PER_COMMUNITY + 1):
            name = f"{community.name}第{number}网格"
            if name not in existing:
                regions.create_region(actor, parent=community, name=name)
                created += 1
    return created


def _region_for(spec: DemoAccount) -> RegionNode:
    if spec.region.startswith("grid:"):
        community = spec.region.removeprefix("grid:")
        grid = (
            RegionNode.objects.filter(parent__code=community, level=RegionLevel.GRID)
            .order_by("code")
            .first()
        )
        if grid is None:
            raise RuntimeError(f"community {community} has no grid")
        return grid
    return RegionNode.objects.get(code=spec.region)


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal column: Chinese characters take two cells."""
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - cells)


def _role_label(code: str, language: str) -> str:
    with translation.override(language):
        return str(BuiltinRole(code).label)


@transaction.atomic
def load_demo(reset_passwords: bool = False) -> dict[str, Any]:
    rng = random.Random(370124)
    regions_created, _ = regions.load_slice()
    accounts.sync_builtin_roles()
    county = RegionNode.objects.get(code=COUNTY)
    admin, security = (
        _bootstrap_administrator_directly(spec, county, rng) for spec in ADMINISTRATORS
    )
    users = {"sysadmin": admin, "secadmin": security}
    created_users = 0
    for spec in ACCOUNTS:
        users[spec.username], created = _ensure_account(
            spec, _region_for(spec), admin, security, rng
        )
        created_users += created
    grids_created = _ensure_grids(users["county_op"])
    for spec in GRID_ACCOUNTS:
        users[spec.username], created = _ensure_account(
            spec, _region_for(spec), admin, security, rng
        )
        created_users += created
    if reset_passwords:
        for user in users.values():
            _force_demo_password(user)
    summary: dict[str, Any] = {
        "regions_created": regions_created,
        "grids_created": grids_created,
        "accounts_created": created_users,
        "passwords_reset": len(users) if reset_passwords else 0,
    }
    audit.record(
        AuditAction.CREATE,
        object_type="core.demo",
        object_repr="demo data",
        actor_name="system",
        changes={key: str(value) for key, value in summary.items()},
        note="linli demo",
    )
    summary["users"] = users
    return summary


class Command(BaseCommand):
    help = (
        "Load the demo county, grids, one demo account per persona and a synthetic register "
        "(idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="set the demo password again on every demo account",
        )
        parser.add_argument(
            "--scale",
            type=int,
            default=synthetic_county.DEFAULT_SCALE,
            help=(
                "number of synthetic people in the register (default "
                f"{synthetic_county.DEFAULT_SCALE}; 0 for none; 1000000 for the benchmarks)"
            ),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=synthetic_county.DEFAULT_SEED,
            help=f"seed of the synthetic register (default {synthetic_county.DEFAULT_SEED})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            # The demo creates all three administrators with a published password.
            raise CommandError(
                "linli demo refuses to run in production mode; use "
                "'linli accounts bootstrap' on a real installation."
            )
        if options["scale"] < 0:
            raise CommandError("--scale must be 0 or more.")
        summary = load_demo(reset_passwords=options["reset_passwords"])
        self.stdout.write(
            f"Regions loaded: {summary['regions_created']}, grids created: "
            f"{summary['grids_created']}, accounts created: {summary['accounts_created']}"
        )
        verbose = options["verbosity"] > 1 or options["scale"] >= 50_000
        county = synthetic_county.load_county(
            options["scale"],
            options["seed"],
            progress=(lambda line: self.stdout.write("  " + line)) if verbose else None,
        )
        people = county.counts.get("people", 0)
        self.stdout.write(
            f"Synthetic register (scale {county.scale}, seed {county.seed}): "
            f"{county.loaded} communities loaded with {people} people, {county.skipped} "
            f"already loaded and left as they are ({county.seconds:.1f} s)"
        )
        if county.loaded and county.tags_missing:
            self.stdout.write(
                self.style.WARNING("No tag in the taxonomy for: " + ", ".join(county.tags_missing))
            )
        self._seed_assessment(summary["users"])
        self._seed_events(summary["users"])
        self.stdout.write("")
        self.stdout.write(
            self.style.WARNING(
                "演示账号 DEMO CREDENTIALS — for trying Linli on this machine only; never use "
                "them on a real installation."
            )
        )
        header = ("用户名 Username", "密码 Password", "角色 Role", "范围 Scope")
        self.stdout.write(
            _pad(header[0], 20) + _pad(header[1], 19) + _pad(header[2], 40) + header[3]
        )
        users: dict[str, User] = summary["users"]
        for spec in ALL_ACCOUNTS:
            user = users[spec.username]
            region = _region_for(spec)
            role = f"{_role_label(spec.role, 'zh-hans')} {_role_label(spec.role, 'en')}"
            self.stdout.write(
                _pad(spec.username, 20)
                + _pad(DEMO_PASSWORD, 19)
                + _pad(role, 40)
                + f"{region.name} {region.code} ({user.display_name})"
            )
        self.stdout.write("")
        self.stdout.write(
            "登录 Sign in at the address `linli serve` prints (default http://127.0.0.1:8000/)."
        )

    def _seed_events(self, users: dict[str, User]) -> None:
        """Departments, dispatch rules and events in every state (``linli.events.demo``); a
        second run adds nothing."""
        seeded = events_demo.load_demo_events(users)
        self.stdout.write(
            f"Event hub (事件) demo: {seeded.events_created} events created, "
            f"{seeded.scenarios_skipped} already there; {seeded.marked_overdue} overdue, "
            f"{seeded.escalated} escalated"
        )

    def _seed_assessment(self, users: dict[str, User]) -> None:
        """Evidenced manual figures for a few communities, the showcase's stored assessment and
        its draft publication (``linli.assessment.demo``); each only once."""
        seeded = assessment_demo.seed(users)
        self.stdout.write("Self-assessment (指标自评) demo figures:")
        for community in seeded.communities:
            if community.problem:
                state = f"not entered: {community.problem}"
            elif community.already_seeded:
                state = "already entered, left as they are"
            else:
                state = f"{community.entered} figures entered with evidence"
            reached = community.tier_reached or "no tier (未达到)"
            self.stdout.write(
                f"  {community.name} {community.code}: {state}; tier reached today: {reached}"
            )
        if seeded.assessment is not None and seeded.publication is not None:
            self.stdout.write(
                f"  stored assessment #{seeded.assessment.pk} "
                f"({'created' if seeded.assessment_created else 'already stored'}), draft "
                f"publication #{seeded.publication.pk} "
                f"({'created' if seeded.publication_created else 'already drafted'})"
            )
