"""The admin screens: versions, state diagrams, validation reports and form previews."""

from __future__ import annotations

import html
import io
import re
import stat
import zipfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ..conftest import DEFAULT_SET, EXAMPLE_SETS, EditSet
from ..persistence.conftest import World, open_complaint
from .conftest import Auth, text_of

ADMIN = "quality_manager"
PAGES = ["/admin/", "/admin/processes/complaint", "/admin/validate", "/admin/preview"]


def zipped(folder: Path, prefix: str = "set") -> bytes:
    """A zip of a set folder, its files under ``prefix/``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def upload(client: FlaskClient, page: str, data: bytes, name: str = "set.zip",
           **fields: str) -> str:
    response = client.post(page, data={"source": "", "upload": (io.BytesIO(data), name),
                                       **fields}, content_type="multipart/form-data")
    return html.unescape(text_of(response))


@pytest.mark.parametrize("page", PAGES)
def test_users_without_an_admin_role_are_refused_every_admin_page(
        client: FlaskClient, auth: Auth, page: str) -> None:
    auth.login("sales")
    response = client.get(page)
    assert response.status_code == 403
    assert "Your roles do not allow this page." in text_of(response)


def test_admin_pages_ask_anonymous_visitors_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_index_lists_published_versions_with_their_open_cases(
        client: FlaskClient, auth: Auth, world: World) -> None:
    open_complaint(world)
    open_complaint(world)
    auth.login(ADMIN)
    response = client.get("/admin/")
    page = text_of(response)
    assert response.status_code == 200
    version = world.definition.version
    row = re.search(rf"{version[:12]} (.*?) served here", page)
    assert row is not None
    assert world.definition.id in row.group(1)
    assert " 2 " in f" {row.group(1)} "  # open cases on this version
    assert "command line" in row.group(1)  # published outside the web, by no user
    assert f'href="/admin/versions/{version[:12]}"' in response.get_data(as_text=True)


def test_the_index_links_the_diagram_of_every_served_process(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    source = client.get("/admin/").get_data(as_text=True)
    for process_id in world.definition.processes:
        assert f'href="/admin/processes/{process_id}"' in source


def test_a_version_page_shows_its_files_and_processes(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    page = text_of(client.get(f"/admin/versions/{world.definition.version[:12]}"))
    assert world.definition.version in page
    assert "set.yaml" in page and "organisation.yaml" in page
    assert "Customer complaint" in page


def test_an_unknown_version_is_not_found(client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN)
    assert client.get("/admin/versions/000000000000").status_code == 404


def test_a_process_page_embeds_its_diagram_for_the_renderer_and_no_inline_script(
        client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN)
    response = client.get("/admin/processes/complaint")
    source = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'<figure[^>]*data-diagram[^>]*data-dot="digraph', source)
    assert "vendor/viz/viz-global.js" in source and "js/diagram.js" in source
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", source))
    assert "stateDiagram-v2" in source  # the Mermaid text, to copy


def test_a_process_page_tables_states_and_transitions_in_the_users_language(
        client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN, locale="zh-CN")
    page = text_of(client.get("/admin/processes/complaint"))
    assert "已登记" in page  # a state
    assert "质量工程师" in page  # an owner role
    assert "登记投诉" in page and "编制" in page  # a step and its signature meaning


def test_an_unknown_process_has_no_diagram(client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN)
    assert client.get("/admin/processes/no_such_process").status_code == 404


def test_the_validation_page_offers_the_sets_on_the_server(
        client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN)
    source = client.get("/admin/validate").get_data(as_text=True)
    assert '<option value="default"' in source
    assert '<option value="examples/kangning"' in source
    assert re.search(r'<label for="source">', source) and re.search(r'<label for="upload">', source)


@pytest.mark.parametrize("source", ["default", "examples/kangning"])
def test_validating_a_set_on_the_server_says_valid_with_its_version(
        client: FlaskClient, auth: Auth, source: str) -> None:
    auth.login(ADMIN)
    response = client.post("/admin/validate", data={"source": source})
    page = text_of(response)
    assert response.status_code == 200
    assert "Valid." in page and re.search(r"Version [0-9a-f]{64}", page)


def test_validating_the_served_set_gives_the_served_version(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    page = text_of(client.post("/admin/validate", data={"source": "default"}))
    assert world.definition.version in page


def test_an_uploaded_set_with_a_mistake_is_reported_with_file_line_code_and_hint(
        client: FlaskClient, auth: Auth, edited_set: EditSet) -> None:
    folder = edited_set(("processes/complaint.yaml", "roles: [sales, quality]",
                         "roles: [sales, qualty]"))
    auth.login(ADMIN)
    page = upload(client, "/admin/validate", zipped(folder))
    assert "1 problem(s)" in page
    assert re.search(r"Report for set.zip .* set/processes/complaint\.yaml:\d+:\d+ "
                     r"E\d+ \$\.\S+ .*qualty", page)
    assert "qmsflow-upload" not in page  # no temporary folder names
    assert "did you mean 'quality'?" in page


def test_an_uploaded_valid_set_is_valid(client: FlaskClient, auth: Auth,
                                        world: World) -> None:
    auth.login(ADMIN)
    page = upload(client, "/admin/validate", zipped(DEFAULT_SET, "default"))
    assert "Valid." in page and world.definition.version in page


def test_an_uploaded_client_set_extends_the_servers_base_as_in_its_repository(
        client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN)
    kangning = EXAMPLE_SETS[0]
    assert "extends: ../../default" in (kangning / "set.yaml").read_text(encoding="utf-8")
    page = upload(client, "/admin/validate", zipped(kangning, "kangning"))
    assert "Valid." in page


def test_an_uploaded_set_cannot_make_the_server_read_a_folder_it_does_not_offer(
        client: FlaskClient, auth: Auth, tmp_path: Path) -> None:
    folder = tmp_path / "client"
    folder.mkdir()
    (folder / "set.yaml").write_text(
        "kind: definition-set\nid: client\nlabel: {en: Client}\nextends: /root/.ssh\n",
        encoding="utf-8")
    auth.login(ADMIN)
    page = upload(client, "/admin/validate", zipped(folder))
    assert "E112" in page and "'/root/.ssh' is not a set this server offers" in page
    assert "looked for" not in page and ".ssh/set.yaml" not in page


def _zip_with(name: str, content: bytes = b"x", link: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, content)
    return buffer.getvalue()


@pytest.mark.parametrize(("data", "name", "message"), [
    (_zip_with("../evil.yaml"), "set.zip", "unsafe file name"),
    (_zip_with("/etc/evil.yaml"), "set.zip", "unsafe file name"),
    (_zip_with("set/link.yaml", b"/etc/passwd", link=True), "set.zip", "links are not accepted"),
    (b"not a zip at all", "set.zip", "not a valid zip"),
    (_zip_with("set/readme.txt"), "set.zip", "has no set.yaml"),
    (b"kind: organisation", "set.yaml", "Upload a .zip file"),
])
def test_an_unsafe_or_wrong_upload_is_refused_and_nothing_is_unpacked(
        client: FlaskClient, auth: Auth, data: bytes, name: str, message: str) -> None:
    auth.login(ADMIN)
    page = upload(client, "/admin/validate", data, name)
    assert message in page
    assert "Valid." not in page


def test_an_upload_that_unpacks_too_large_is_refused(
        client: FlaskClient, auth: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    from qmsflow.web.admin import sources
    monkeypatch.setattr(sources, "UNPACKED_MAX_BYTES", 1000)
    auth.login(ADMIN)
    page = upload(client, "/admin/validate", _zip_with("set/big.yaml", b"a" * 5000))
    assert "unpacks to more than" in page


def test_validating_without_a_set_or_a_zip_asks_for_one(client: FlaskClient,
                                                        auth: Auth) -> None:
    auth.login(ADMIN)
    response = client.post("/admin/validate", data={"source": ""})
    assert response.status_code == 422
    assert "Pick a definition set or upload a zip." in text_of(response)


def test_a_set_name_not_offered_is_refused(client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN)
    response = client.post("/admin/validate", data={"source": "../../etc"})
    assert response.status_code == 422
    assert "Valid." not in text_of(response)


def test_the_preview_renders_every_step_form_of_a_process_without_a_submit(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    response = client.post("/admin/preview", data={"source": "default", "process_id": "complaint"})
    source = response.get_data(as_text=True)
    page = text_of(response)
    assert response.status_code == 200
    process = world.definition.process("complaint")
    for step in process.every_step():
        assert step.label["en"] in page
    previews = source[source.index("data-preview"):]
    assert 'type="submit"' not in previews
    assert re.search(r'<label for="product_model">Product model', previews)
    assert "service_request" not in previews.split("</section>")[0]


def test_the_preview_of_a_server_set_links_each_of_its_processes(
        client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN, locale="zh-CN")
    response = client.get("/admin/preview?source=default&process=service_request")
    source = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "/admin/preview?source=default&amp;process=complaint" in source
    assert "data-preview" in source


def test_the_preview_of_an_uploaded_set_shows_the_forms_of_the_chosen_process(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    page = upload(client, "/admin/preview", zipped(DEFAULT_SET), process_id="complaint")
    complaint = world.definition.process("complaint")
    other = next(p for pid, p in world.definition.processes.items() if pid != "complaint")
    assert all(step.label["en"] in page for step in complaint.steps.values())
    assert next(iter(other.starts.values())).label["en"] not in page


def test_the_preview_names_the_processes_when_asked_for_an_unknown_one(
        client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN)
    response = client.post("/admin/preview", data={"source": "default", "process_id": "complain"})
    assert response.status_code == 422
    assert "did you mean 'complaint'?" in html.unescape(text_of(response))


def test_the_preview_of_a_broken_set_lists_its_problems(
        client: FlaskClient, auth: Auth, edited_set: EditSet) -> None:
    folder = edited_set(("processes/complaint.yaml", "roles: [sales, quality]",
                         "roles: [sales, qualty]"))
    auth.login(ADMIN)
    page = upload(client, "/admin/preview", zipped(folder))
    assert "fix them to preview it" in page and "qualty" in page
