// Bundles js/src into infoflow_widget/static/ (ESM, minified); `--watch` rebuilds on change for anywidget's HMR.
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const options = {
  entryPoints: { widget: "src/widget.js" },
  bundle: true,
  format: "esm",
  minify: !watch,
  sourcemap: watch ? "inline" : false,
  target: ["es2020"],
  outdir: "../infoflow_widget/static",
  // UMD wrappers in dependencies would see an AMD loader in VS Code and never define the module.
  define: { "define.amd": "false" },
  logLevel: "info",
};

if (watch) {
  await (await esbuild.context(options)).watch();
} else {
  await esbuild.build(options);
}
