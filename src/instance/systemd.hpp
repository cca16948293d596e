// systemd units for an instance's processes: one `lavabuild-NAME-PROCESS.service` each,
// written to etc/systemd/ always, and installed into /etc/systemd/system (then started
// with systemctl) when PID 1 is systemd. Elsewhere lavabuild's supervisor runs them
// (supervisor.hpp) with the same environment file, directory and restart policy.
#pragma once

#include <string>

#include "instance/layout.hpp"
#include "util/result.hpp"

namespace lb::instance {

std::string unit_name(const std::string& instance, const std::string& process);
/// The unit's text. `user` empty: no User= (runs as root).
std::string render_unit(const Paths& p, const std::string& instance, const std::string& process,
                        const std::string& command, const std::string& user);
/// Whether systemd is the service manager here (sd_booted(3): /run/systemd/system exists).
bool systemd_running();

}  // namespace lb::instance
