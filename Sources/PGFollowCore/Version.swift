/// pgfollow's version: `pgfollow --version`, and the Debian package's version (scripts/package).
package let pgfollowVersion = "0.9.0"
