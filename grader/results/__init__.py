"""Result objects of a grade (model) and their renderings: Gradescope JSON (gradescope), the HTML report
(html), the badge (badge), the plots (plots), and writing them all atomically (write)."""
