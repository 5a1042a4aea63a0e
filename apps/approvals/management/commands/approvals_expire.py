"""Expire overdue approval requests now (what the periodic Celery task does every minute)."""

from django.core.management.base import BaseCommand

from apps.approvals.services import approval_expire_due


class Command(BaseCommand):
    help = "Mark pending approval requests past their deadline as expired (audited as approval.expired)."

    def handle(self, *args, **options):
        count = approval_expire_due()
        self.stdout.write(f"{count} approval request(s) expired.")
