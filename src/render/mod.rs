//! Renderers of a `Plan`: for people (Terraform-like text), for machines (versioned JSON) and for
//! pull requests (Markdown). Each writes to `&mut impl Write`; none decides anything.
