"""The gateway's own rows. (The caller epochs of migration 0001 are raw SQL, read by db.py.)"""

from django.db import models


class HeldCallDelivery(models.Model):
    """The final answer of a held call was given to a 2026-07-28 client that retried with its
    ``requestState`` (held.py). One row per approval request: the primary key makes the first
    retry that inserts it the only one that gets the answer; every later retry is a replay."""

    approval_request = models.OneToOneField("approvals.ApprovalRequest", on_delete=models.CASCADE,
                                            primary_key=True, related_name="+")
    status = models.CharField(max_length=12, help_text="The request's status when its answer was delivered")
    delivered_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"answer of approval request {self.approval_request_id} delivered ({self.status})"
