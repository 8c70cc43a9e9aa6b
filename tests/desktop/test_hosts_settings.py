"""File → Settings → Hosts with real widgets: the host file's hosts are listed, a file that is no
hostfile says why and cannot be switched on, and OK saves the file and the switch."""

from __future__ import annotations

import json

from desktop.hosts_run import HostsGenerate, HostsSwitch
from desktop.widgets.settings_dialog import SettingsDialog

LOCAL_PAIR = [{"ssh": "127.0.0.1", "ips": ["127.0.0.1"]}, {"ssh": "127.0.0.1", "ips": ["127.0.0.1"]}]


def host_file(tmp_path, hosts=LOCAL_PAIR):
    path = tmp_path / "hosts.json"
    path.write_text(json.dumps(hosts))
    return path


def test_hosts_section_lists_the_hosts_and_ok_saves_the_switch(qtbot, app_settings, tmp_path):
    dialog = SettingsDialog(app_settings, model="tiny")
    qtbot.addWidget(dialog)
    hosts = dialog.hosts
    assert not hosts.enabled_box.isEnabled() and not hosts.check_button.isEnabled()
    hosts.load(str(host_file(tmp_path)))
    rows = [[hosts.table.topLevelItem(i).text(c) for c in range(4)] for i in range(hosts.table.topLevelItemCount())]
    assert rows == [["0", "127.0.0.1", "127.0.0.1", "not checked"], ["1", "127.0.0.1", "127.0.0.1", "not checked"]]
    assert hosts.check_button.isEnabled() and hosts.enabled_box.isEnabled()
    hosts.enabled_box.setChecked(True)
    dialog.accept()
    saved = json.loads(app_settings.path.read_text())
    assert saved["hosts_file"] == str(tmp_path / "hosts.json") and saved["hosts_enabled"] is True


def test_a_file_that_is_no_hostfile_says_why_and_cannot_be_switched_on(qtbot, app_settings, tmp_path):
    app_settings.update({"hosts_file": str(host_file(tmp_path)), "hosts_enabled": True})
    dialog = SettingsDialog(app_settings, model="tiny")
    qtbot.addWidget(dialog)
    assert dialog.hosts.enabled_box.isChecked()
    (tmp_path / "bad.json").write_text('{"hosts": "studio"}')
    dialog.hosts.load(str(tmp_path / "bad.json"))
    assert "is not an mlx.launch hostfile" in dialog.hosts.status.text()
    assert not dialog.hosts.enabled_box.isEnabled() and not dialog.hosts.enabled_box.isChecked()
    dialog.hosts.load(str(host_file(tmp_path, LOCAL_PAIR[:1])))
    assert "a shared run needs two or more" in dialog.hosts.status.text()
    dialog.accept()
    assert app_settings.get("hosts_enabled") is False


def test_the_switch_points_the_service_at_the_hosts_and_back(qtbot, app_settings, tmp_path):
    class Service:
        class worker:  # noqa: N801 - stands for the service's worker attribute
            generate_fn = None

        def set_generate_fn(self, fn):
            self.fn = fn

    service = Service()
    switch = HostsSwitch(service, app_settings)
    assert service.fn is switch.local
    app_settings.update({"hosts_file": str(host_file(tmp_path)), "hosts_enabled": True, "video_crf": 23})
    hosts = switch.apply()
    assert service.fn is hosts and isinstance(hosts, HostsGenerate) and hosts.crf == 23
    app_settings.set("hosts_enabled", False)
    switch.apply()
    assert service.fn is switch.local
