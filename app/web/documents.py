"""The documents section's own routes: older documents ("load more"), upload and download."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import quote

from quart import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from app import documents
from app.db import connection
from app.i18n import current_language, gettext
from app.live.events import announce
from app.params import ParamError
from app.sections import SECTIONS
from app.web import limits
from app.web.access import READERS, WRITERS, allow
from app.web.customers import existing_customer
from app.web.htmx import is_htmx, refresh_sections

log = logging.getLogger(__name__)

blueprint = Blueprint("documents", __name__, url_prefix="/customers/<int:customer_id>")

# What the browser's file picker offers; the server judges by content all the same.
ACCEPT = ",".join(
    [f".{ext}" for kind in documents.ALLOWED_TYPES.values() for ext in kind.extensions]
    + list(documents.ALLOWED_TYPES)
    + ["image/heif"]
)
# Downloads are never rendered by the browser: should one be opened anyway, it runs nothing.
DOWNLOAD_CSP = "default-src 'none'; sandbox"


@blueprint.app_template_filter("filesize")
def filesize(size_bytes: int) -> str:
    return documents.human_size(size_bytes, current_language())


@blueprint.record_once
def upload_rules(state) -> None:
    # The upload form is rendered by the section route too, so its rules are template globals.
    state.app.jinja_env.globals.update(
        document_accept=ACCEPT,
        document_types=documents.ALLOWED_NAMES,  # translated by the template
        document_max_bytes=documents.MAX_FILE_BYTES,
        document_max_files=documents.MAX_FILES_PER_UPLOAD,
    )


def storage_directory() -> Path:
    return current_app.config["SETTINGS"].var_dir / "documents"


async def render_section(conn, customer_id: int, **form_state) -> str:
    section = SECTIONS["documents"]
    page = await documents.load_documents(conn, customer_id)
    return await render_template(
        section.template, section=section, customer_id=customer_id, data=page, args={}, **form_state
    )


@blueprint.get("/documents")
@allow(*READERS)
async def more(customer_id: int):
    """The next page of documents, as rows to put in place of the "load more" row."""
    conn = await existing_customer(customer_id)
    try:
        page = await SECTIONS["documents"].load(conn, customer_id, request.args)
    except ParamError as exc:
        raise BadRequest(str(exc)) from None
    return await render_template("partials/document_rows.html", page=page, customer_id=customer_id)


@blueprint.post("/documents")
@allow(*WRITERS)
@limits.writes
async def upload(customer_id: int):
    """Upload one or more files: all are kept, or none (each refusal says which file and why)."""
    conn = await existing_customer(customer_id)
    try:
        form, files = await request.form, await request.files
    except RequestEntityTooLarge:
        # Above the app's MAX_CONTENT_LENGTH the body is not read at all: say so in the form, not a bare 413.
        message = gettext(
            "These files add up to more than %(limit)s, the most one upload can carry. "
            "Upload fewer at a time (each up to %(file_limit)s).",
            limit=filesize(current_app.config["MAX_CONTENT_LENGTH"]),
            file_limit=filesize(documents.MAX_FILE_BYTES),
        )
        return await render_section(conn, customer_id, upload_errors={"file": [message]}), 422

    work_order_value = form.get("work_order_id", "")
    # An empty file input still sends a part, without a file name: that is no file chosen.
    chosen = [storage for storage in files.getlist("file") if storage.filename]
    errors: dict[str, list[str]] = {}
    uploads: list[documents.Upload] = []
    if not chosen:
        errors["file"] = [gettext("Choose a file to upload.")]
    elif len(chosen) > documents.MAX_FILES_PER_UPLOAD:
        errors["file"] = [
            gettext("Upload at most %(count)d files at a time.", count=documents.MAX_FILES_PER_UPLOAD)
        ]
    else:
        for storage in chosen:
            # One byte past the limit is enough to refuse: no more is copied out of the parsed body.
            data = await asyncio.to_thread(storage.stream.read, documents.MAX_FILE_BYTES + 1)
            try:
                uploads.append(documents.check_upload(storage.filename or "", data))
            except documents.UploadError as exc:
                errors.setdefault(exc.field, []).append(exc.message)
    try:
        work_order_id = await documents.check_work_order(conn, customer_id, work_order_value)
    except documents.UploadError as exc:
        errors.setdefault(exc.field, []).append(exc.message)
        work_order_id = None
    if errors:
        html = await render_section(
            conn, customer_id, upload_errors=errors, chosen_work_order=work_order_value
        )
        return html, 422

    directory = storage_directory()
    try:
        added = await documents.add_documents(
            conn,
            customer_id,
            uploads,
            directory=directory,
            actor_id=g.user.id,
            work_order_id=work_order_id,
        )
    except documents.StorageError:
        await conn.rollback()
        message = gettext("The files could not be stored just now; nothing was saved. Try again in a moment.")
        return await render_section(conn, customer_id, upload_errors={"form": [message]}), 500
    # commit_and_announce in two steps, so that a commit that fails also takes the files away.
    try:
        await conn.commit()
    except BaseException:
        await documents.remove_files(directory, added.storage_keys)
        raise
    await announce(current_app.extensions["broker"], added.events)

    if not is_htmx():
        return redirect(url_for("customers.show", customer_id=customer_id) + "#section-documents", 303)
    html = await render_section(conn, customer_id, uploaded=uploads)
    response = await current_app.make_response(html)
    return refresh_sections(response, "activity")


@blueprint.get("/documents/<int:document_id>")
@allow(*READERS)
async def download(customer_id: int, document_id: int):
    """The file, as an attachment under its (cleaned) name, only under the customer it belongs to."""
    conn = await connection()
    stored = await documents.get_stored_document(conn, customer_id, document_id)
    if stored is None:
        abort(
            404,
            gettext(
                "Customer #%(customer)s has no document #%(document)s.",
                customer=customer_id,
                document=document_id,
            ),
        )
    try:
        path = documents.storage_path(storage_directory(), stored.storage_key)
        body = await asyncio.to_thread(current_app.response_class.file_body_class, path)
    except (ValueError, FileNotFoundError):
        log.warning("document %s of customer %s has no file in storage", document_id, customer_id)
        abort(
            404,
            gettext("The file of “%(name)s” is missing from storage; upload it again.", name=stored.filename),
        )

    # A type we would not accept today (an older row) is sent as bytes to save, never as something to render.
    content_type = (
        stored.content_type if stored.content_type in documents.ALLOWED_TYPES else "application/octet-stream"
    )
    response = current_app.response_class(body, mimetype=content_type)
    response.content_length = body.size
    response.headers["Content-Disposition"] = content_disposition(stored.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return response


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII filename for old clients and, when the name is not plain ASCII, the exact
    name as RFC 5987's filename* (UTF-8, percent-encoded)."""
    name = documents.clean_filename(filename) or "document"
    fallback = documents.ascii_filename(name)
    value = f'attachment; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='!#$&+^`|~')}"
    return value
