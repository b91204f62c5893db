from __future__ import annotations

from airflow_provider_apiframe.get_provider_info import get_provider_info


def test_airflow_discovers_the_provider_and_its_connection_type():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-apiframe" in manager.providers
    hook = manager.hooks["apiframe"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_apiframe.hooks.apiframe.ApiframeHook"
    assert hook.connection_id_attribute_name == "apiframe_conn_id"


def test_every_module_named_in_the_provider_info_imports():
    import importlib

    info = get_provider_info()
    modules = [
        m
        for kind in ("operators", "sensors", "hooks", "triggers")
        for entry in info[kind]
        for m in entry["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    [conn] = info["connection-types"]
    hook_module, hook_class = conn["hook-class-name"].rsplit(".", 1)
    hook = getattr(importlib.import_module(hook_module), hook_class)
    assert hook.conn_type == conn["connection-type"] == "apiframe"
    assert hook.default_conn_name == "apiframe_default"
    assert conn["ui-field-behaviour"]["relabeling"]["password"] == "API Key"
    assert hook.get_ui_field_behaviour()["hidden_fields"] == conn["ui-field-behaviour"]["hidden-fields"]


def test_airflow_finds_the_task_decorator_and_the_extra_link():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    decorators = manager.taskflow_decorators
    assert "apiframe_image" in decorators
    assert decorators["apiframe_image"].__name__ == "apiframe_image_task"
    assert "airflow_provider_apiframe.links.ApiframeImageLink" in manager.extra_links_class_names
    assert "airflow_provider_apiframe.links.ApiframeOutputLink" in manager.extra_links_class_names


def test_task_namespace_offers_the_decorator():
    from airflow.providers.common.compat.sdk import task

    assert callable(task.apiframe_image)


def test_airflow_shows_the_settings_as_fields_stored_under_their_plain_names():
    """Airflow 3 from the provider info's conn-fields, Airflow 2 from the hook: the same fields."""
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_apiframe.wire.transport import ClientSettings

    manager = ProvidersManager()
    widgets = {k: w for k, w in manager.connection_form_widgets.items() if k.startswith("extra__apiframe__")}
    # Both UIs save a field's value in the extra under field_name, the key ClientSettings reads.
    assert sorted(w.field_name for w in widgets.values()) == sorted(ClientSettings.EXTRA_KEYS)
    assert not any(w.is_sensitive for w in widgets.values())
    behaviour = manager.field_behaviours["apiframe"]
    assert sorted(behaviour["hidden_fields"]) == ["login", "port", "schema"]
    assert behaviour["relabeling"] == {"host": "API URL", "password": "API Key"}
    [conn] = get_provider_info()["connection-types"]
    assert list(conn["conn-fields"]) == list(ClientSettings.EXTRA_KEYS)


def test_airflow_finds_the_api_server_plugin():
    """Listed by provider; Airflow 3.3's API server loads it with [core] lazy_discover_providers = False."""
    from airflow.providers_manager import ProvidersManager

    [plugin] = [p for p in ProvidersManager().plugins if p.provider_name == "airflow-provider-apiframe"]
    assert plugin.name == "apiframe_api_server"
    assert plugin.plugin_class == "airflow_provider_apiframe.plugins.api_server.ApiframeApiServerPlugin"
