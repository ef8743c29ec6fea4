"""Where scim2-server keeps the provisioned resources: ``ScimResource`` rows.

Reads and writes go to the database; a search loads the resources of the searched
types and lets scim2-server's in-memory storage filter, sort and page them, so every
filter RFC 7644 defines works alike. A directory holds people and groups in the
thousands, not millions: one search reads them all, which is what an identity
provider's periodic ``userName eq`` lookups cost here (a few milliseconds a thousand).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from scim2_models import (
    Meta,
    NotFoundException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
    UniquenessException,
)
from scim2_server.memory import InMemoryStorage
from scim2_server.storage import ScimStorage, SearchPage

from assessments.models import ScimResource
from assessments.scim import directory

# Never kept: the product has no use for a password the provider sends (people sign
# in through single sign-on), and RFC 7643 never returns one.
NEVER_STORED = ("password",)


def version_tag(version: int) -> str:
    return f'W/"{version}"'


class DatabaseStorage(ScimStorage):
    def __init__(self, provider: ScimProvider) -> None:
        self.provider = provider

    # -- reading

    def _model(self, resource_type: ResourceType) -> Any:
        return self.provider.model_for(resource_type)

    def _resource(self, row: ScimResource, resource_type: ResourceType) -> Resource[Any]:
        resource = self._model(resource_type).model_validate(row.document)
        resource.id = row.scim_id
        resource.meta = Meta(
            resource_type=row.resource_type,
            created=row.created_at,
            last_modified=row.updated_at,
            version=version_tag(row.version),
        )
        return resource

    def _row(self, resource_type: ResourceType, resource_id: str | None, lock: bool = False):
        rows = ScimResource.objects.filter(resource_type=resource_type.name, scim_id=resource_id)
        row = (rows.select_for_update() if lock else rows).first()
        if row is None:
            raise NotFoundException(detail=f"{resource_type.name} {resource_id!r} not found")
        return row

    def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        return self._resource(self._row(resource_type, resource_id), resource_type)

    def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        by_name = {rt.name: rt for rt in resource_types}
        memory = InMemoryStorage()
        memory.resources = [
            self._resource(row, by_name[row.resource_type])
            for row in ScimResource.objects.filter(resource_type__in=by_name)
        ]
        return memory.search(resource_types, search_request, position=position)

    # -- writing

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        now = timezone.now()
        row = ScimResource(
            resource_type=resource_type.name,
            scim_id=uuid.uuid4().hex,
            created_at=now,
            updated_at=now,
        )
        self._write(row, resource)
        return self._resource(row, resource_type)

    def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        row = self._row(resource_type, resource.id, lock=True)
        self._check_version(row, expected_version)
        before = dict(row.document)
        row.version += 1
        row.updated_at = timezone.now()
        self._write(row, resource, before=before)
        return self._resource(row, resource_type)

    def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        row = self._row(resource_type, resource_id, lock=True)
        self._check_version(row, expected_version)
        directory.removed(row)
        row.delete()

    @contextmanager
    def operation(self) -> Generator[None]:
        with transaction.atomic():
            yield

    def _write(
        self, row: ScimResource, resource: Resource[Any], before: dict[str, Any] | None = None
    ) -> None:
        document = resource.model_dump()
        for name in ("id", "meta", *NEVER_STORED):
            document.pop(name, None)
        row.document = document
        row.unique_key = (
            str(document.get("userName") or "").casefold() or None
            if row.resource_type == ScimResource.Type.USER
            else None
        )
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            raise UniquenessException(
                detail=f"Another person already has the userName {document.get('userName')!r}."
            ) from None
        directory.written(row, before)

    @staticmethod
    def _check_version(row: ScimResource, expected_version: str | None) -> None:
        if expected_version is not None and version_tag(row.version) != expected_version:
            raise PreconditionFailedException
