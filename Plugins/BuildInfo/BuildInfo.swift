import Foundation
import PackagePlugin

/// Bakes the git commit berth is built from into the binary (`berth
/// version`): before every build, a shell writes `BuildInfo.swift` with the
/// commit of the package's own checkout (with "-dirty" when tracked files
/// changed), or an empty one when the sources are not a git checkout (a
/// tarball) or git is missing. The file is rewritten only when its text
/// changes, so an unchanged commit rebuilds nothing.
@main
struct BuildInfo: BuildToolPlugin {
    static let script = #"""
        package=$1 out=$2/BuildInfo.swift commit=
        mkdir -p "$2"
        if [ -e "$package/.git" ] && commit=$(GIT_OPTIONAL_LOCKS=0 git -C "$package" rev-parse --short=12 HEAD 2>/dev/null); then
            if [ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$package" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
                commit="$commit-dirty"
            fi
        else
            commit=
        fi
        text="// Generated before each build by Plugins/BuildInfo: do not edit.
        enum BuildInfo {
            static let commit = \"$commit\"
        }"
        if [ ! -f "$out" ] || [ "$(cat "$out")" != "$text" ]; then printf '%s\n' "$text" > "$out"; fi
        """#

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        return [
            .prebuildCommand(
                displayName: "Recording the git commit of \(target.name)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", BuildInfo.script, "build-info", context.package.directoryURL.path, output.path],
                environment: ["PATH": "/usr/local/bin:/usr/bin:/bin"],
                outputFilesDirectory: output)
        ]
    }
}
