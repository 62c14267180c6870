"""Server-side account operations: bootstrap the three administrators, break-glass resets."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from linli.accounts import services
from linli.accounts.choices import RoleKind
from linli.core.errors import ServiceError
from linli.regions.models import RegionNode


class Command(BaseCommand):
    help = "Bootstrap the three administrators of a new installation, or reset a password."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        boot = sub.add_parser("bootstrap", help="create the three administrators (once)")
        boot.add_argument("--region", required=True, help="code of the installation's top node")
        boot.add_argument("--system-admin", default="sysadmin")
        boot.add_argument("--security-admin", default="secadmin")
        boot.add_argument("--audit-admin", default="auditadmin")
        reset = sub.add_parser("reset-password", help="one-time password for any account")
        reset.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "bootstrap":
                region = RegionNode.objects.filter(code=options["region"]).first()
                if region is None:
                    raise CommandError(f"region {options['region']} does not exist")
                created = services.bootstrap_administrators(
                    region,
                    {
                        RoleKind.SYSTEM_ADMIN: options["system_admin"],
                        RoleKind.SECURITY_ADMIN: options["security_admin"],
                        RoleKind.AUDIT_ADMIN: options["audit_admin"],
                    },
                )
                self.stdout.write("One-time passwords (each must be changed at first sign-in):")
                for username, password in created.items():
                    self.stdout.write(f"  {username}  {password}")
            else:
                password = services.reset_password_from_server(options["username"])
                self.stdout.write(
                    f"One-time password for {options['username']}: {password}\n"
                    "It must be changed at the next sign-in."
                )
        except ServiceError as exc:
            raise CommandError(str(exc.message)) from exc
