from django.contrib import admin

from .models import ApiToken, Invitation, Membership, Organization, Team


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role")
    list_filter = ("role",)


admin.site.register(Team)
admin.site.register(Invitation)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "organization", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = ("digest", "prefix")
