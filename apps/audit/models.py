"""The append-only, hash-chained audit log."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.fields.json import KeyTransform


class AppendOnlyError(Exception):
    """Audit events are never changed or removed."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be updated.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what, when, from where, to which object. One row per event; never updated.

    ``seq``, ``prev_hash`` and ``hash`` chain an organization's events (see chain.py);
    a database trigger (migration 0002) rejects UPDATE and DELETE, except the one UPDATE
    that deleting a user causes (actor set to NULL), which the hash does not cover because
    the actor's label is copied into ``actor_label``.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of its own: every composite index below starts with organization_id, and one
    # btree fewer to update is cheaper for every event (two per tool call).
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="audit_events",
                                     db_index=False)
    seq = models.BigIntegerField()
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True, default="")
    event_type = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    target_label = models.CharField(max_length=300, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Which hash scheme wrote this row (chain.LEGACY: sha256, before migration 0006;
    # chain.KEYED: HMAC under the organization's chain key). Not covered by the hash itself:
    # chain.verify refuses a legacy row after a keyed one.
    chain_version = models.PositiveSmallIntegerField(default=2)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "seq"],
                name="auditevent_unique_seq_per_org",
                violation_error_message="Audit sequence numbers are unique per organization.",
            )
        ]
        indexes = [
            # The audit page and REST list (selectors.audit_events): each filter is an equality
            # followed by seq, so "newest matches first, 51 of them" is one index scan in seq
            # order that stops early, with or without planner statistics. Each costs the
            # append one btree insert (bench/audit_append.py: append p50 before/after).
            models.Index(fields=["organization", "event_type", "seq"], name="audit_org_type_seq_idx"),
            models.Index(fields=["organization", "target_id", "seq"], name="audit_org_target_seq_idx"),
            models.Index(fields=["organization", "actor_label", "seq"], name="audit_org_actor_seq_idx"),
            # the project filter (payload "project", the slug events about a project carry)
            models.Index(F("organization"), KeyTransform("project", "payload"), F("seq"),
                         name="audit_org_project_seq_idx"),
            # the actor filter's other alternatives: the API token's name or prefix (gateway events)
            models.Index(F("organization"), KeyTransform("token_name", "payload"), F("seq"),
                         name="audit_org_token_name_seq_idx"),
            models.Index(F("organization"), KeyTransform("token_prefix", "payload"), F("seq"),
                         name="audit_org_token_prefix_seq_idx"),
            # date ranges: two one-row lookups turn a range into seq bounds (selectors.date_seq_bounds),
            # then the seq-ordered indexes above (or the (organization, seq) unique one) read the page
            models.Index(fields=["organization", "-created_at"], name="audit_org_created_idx"),
        ]
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")

    def chain_content(self) -> dict:
        """The fields the hash covers (everything but actor_id, which SET_NULL may clear).
        audit_prepare serialises the same members without building this dict
        (chain.event_parts): a change here is a change there (tests/audit/test_prepare.py)."""
        return {
            "id": str(self.public_id),
            "organization": self.organization_id,
            "seq": self.seq,
            "created_at": self.created_at.isoformat(),
            "actor": self.actor_label,
            "event_type": self.event_type,
            "target": [self.target_type, self.target_id, self.target_label],
            "payload": self.payload,
            "request_id": self.request_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
        }


class AuditChainHead(models.Model):
    """The newest link of an organization's chain (its seq and hash), kept by
    ``mcpforge_audit_append`` in the same transaction as each insert, under the chain lock:
    an append reads one row by primary key instead of looking up the last event, so it costs
    the same at any table size and with any (or no) planner statistics.

    The same UPDATE keeps how far the organization's event times ever ran behind its chain
    order (migration 0010; 0008 did it with a trigger): ``max_created_at`` is the newest
    ``created_at`` so far, ``max_lag`` the largest amount by which an event's ``created_at``
    was older than an earlier-seq event's. So for any two events, a higher seq never has a
    ``created_at`` more than ``max_lag`` before a lower seq's, which lets a date range become
    a seq range (selectors.date_seq_bounds) read through the seq-ordered indexes, exactly,
    without planner statistics. Event times are set by the application before the chain lock
    is taken, so they are nearly, not strictly, in seq order (a batch flushed late widens the
    lag). NULL: not known, and no bound is derived from it."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.PROTECT, primary_key=True,
                                        related_name="+")
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    # The hash before ``hash``, i.e. the prev_hash of the event the head points at: written by
    # the append's UPDATE so that its RETURNING can hand the link on (migration 0011); never
    # read to build the chain.
    prev_hash = models.CharField(max_length=64, null=True)
    max_created_at = models.DateTimeField(null=True)
    max_lag = models.DurationField(null=True)

    class Meta:
        db_table = "audit_chainhead"

    def __str__(self) -> str:
        return f"head of {self.organization_id} at #{self.seq}"


class AuditCheckpoint(models.Model):
    """A signed statement that an organization's chain had ``seq`` events, the last with
    ``hash``, at ``created_at`` (chain.checkpoint_mac under the checkpoint key). A chain found
    shorter than a checkpoint, or with another hash at its seq, was cut or rewritten.
    Append-only like the events (migration 0006); export them off the box
    (``manage.py audit_checkpoint --export``) so they also outlive a database rewrite."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                     db_index=False)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    mac = models.CharField(max_length=64)

    class Meta:
        indexes = [
            # audit_verify and the next checkpoint: an organization's newest checkpoints
            models.Index(fields=["organization", "-seq"], name="audit_checkpoint_org_seq_idx"),
        ]

    def __str__(self) -> str:
        return f"checkpoint of {self.organization_id} at #{self.seq}"
